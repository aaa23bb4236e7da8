import Foundation
import MeshProtocol
import MeshTestSupport
import Testing

/// Peers that come and go in numbers leave a gateway as it was: webrtcbins, their threads
/// and open files go, and memory returns close to where it was.
@Suite(.serialized)
struct PeerChurnTests {
    struct Usage: CustomStringConvertible {
        let residentKiB: Int
        let threads: Int
        let files: Int
        var description: String { "\(residentKiB / 1024) MiB, \(threads) threads, \(files) open files" }

        init(pid: Int32) throws {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            func field(_ name: String) -> Int {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { line in
                    line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
                } ?? 0
            }
            residentKiB = field("VmRSS")
            threads = field("Threads")
            files = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        }
    }

    /// `count` bare clients join and offer, are answered, and leave.
    static func round(of count: Int, url: String, round: Int) async throws {
        var clients: [TestClient] = []
        for index in 0..<count {
            let id = "churn-\(round)-\(index)"
            let client = try await TestClient.join(url, id: id)
            client.send(Message(type: .sendOffer, id: id, targetId: "gateway", username: id, sdp: .offer(HostilePeer.validOffer)))
            clients.append(client)
        }
        for client in clients {
            _ = try await client.next(where: { $0.type == .sendAnswer }, within: .seconds(20))
        }
        for client in clients { await client.close() }
    }

    @Test func peersThatComeAndGoLeaveNothingBehind() async throws {
        // A room bigger than a server's default, for a crowd bigger than --max-peers' default.
        try await Call.run(configuring: { $0.maxRoomSize = 300 }) { call in
            let gateway = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "gateway", "--size", "160x120", "--fps", "10",
                                               "--ice-address", "127.0.0.1", "--max-peers", "500"])
            defer { gateway.signal(SIGKILL) }
            let watcher = try await TestClient.join(call.url, id: "watcher")
            _ = try await watcher.next(where: { $0.type == .connectionList && $0.newUserId == "gateway" }, within: .seconds(20))
            // One round first: GStreamer loads its plugins and makes its first DTLS certificate.
            try await Self.round(of: 30, url: call.url, round: 0)
            try await Task.sleep(for: .seconds(2))
            let baseline = try Usage(pid: gateway.pid)
            for round in 1...2 {
                try await Self.round(of: 100, url: call.url, round: round)
            }
            do {
                let after = try await eventually("the peers' threads, files and memory to go", within: .seconds(20)) { () -> Usage? in
                    let usage = try Usage(pid: gateway.pid)
                    let settled = usage.threads <= baseline.threads + 2 && usage.files <= baseline.files + 4
                        && usage.residentKiB <= baseline.residentKiB + 16 * 1024
                    return settled ? usage : nil
                }
                print("PeerChurnTests: baseline \(baseline); after more peers came and went: \(after)")
            } catch {
                Issue.record("baseline \(baseline), after \(try Usage(pid: gateway.pid))")
            }
            await watcher.close()
        }
    }
}
