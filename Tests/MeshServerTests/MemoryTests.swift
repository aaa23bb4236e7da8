import Foundation
import Synchronization
import Testing
import MeshTestSupport

/// A crowd that joins and leaves must not leave the server at its peak size.
@Suite struct MemoryTests {
    @Test func memoryReturnsCloseToBaselineAfterFiveHundredJoinsHaveLeft() async throws {
        let server = try ServeProcess()
        defer { server.stop() }
        let port = try await server.port()

        // One round first, so that what the server allocates once (threads, pools) is in the baseline.
        await Self.crowd(of: 50, port: port)
        try await Task.sleep(for: .milliseconds(500))
        let baseline = try server.residentBytes()

        let peak = await Self.crowd(of: 500, port: port) { try? server.residentBytes() }
        let grown = (peak ?? 0) - baseline
        // Otherwise the test would show nothing: the crowd must have cost memory.
        try #require(grown > 8 << 20, "the crowd grew the server by \(grown >> 20) MiB only")

        // Sockets close, the hub trims when the last one has gone and at its next tick.
        var settled = try server.residentBytes()
        let deadline = ContinuousClock.now + .seconds(12)
        while settled - baseline >= grown * 3 / 4, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            settled = try server.residentBytes()
        }
        // Most of it, not all: NIO's and the Swift runtime's own pools stay.
        #expect(settled - baseline < grown * 3 / 4, "baseline \(baseline >> 20) MiB, peak \((baseline + grown) >> 20) MiB, after \(settled >> 20) MiB")
    }

    /// `count` clients in rooms of 64 with names as long as allowed, who never read what
    /// they are sent (their small kernel buffers fill at once, so it waits in the server),
    /// until all have joined; then all sockets close. Returns what `measure` gave
    /// with everyone in.
    @discardableResult
    static func crowd(of count: Int, port: Int, measure: @escaping @Sendable () -> Int? = { nil }) async -> Int? {
        await onThread {
            let name = String(repeating: "n", count: 256)
            let sockets = (0..<count).compactMap { index -> RawSocket? in
                guard let socket = try? RawSocket(port: port, receiveBuffer: 4096), socket.upgrade(path: "/room/r\(index / 64)").hasPrefix("HTTP/1.1 101") else { return nil }
                socket.sendText(#"{"type":"new_user","id":"u\#(index)-\#(UUID().uuidString)","username":"\#(name)"}"#)
                return socket
            }
            // The last join has been announced once its own socket has the list.
            _ = sockets.last?.textFrame(containing: "connection_list")
            Thread.sleep(forTimeInterval: 0.5)
            let measured = measure()
            withExtendedLifetime(sockets) {}
            return measured
        }
    }
}

/// `meshgate serve` as a process of its own, so its memory is its own.
final class ServeProcess: Sendable {
    private let process: Process
    private final class Log: Sendable {
        let text = Mutex("")
    }
    private let log = Log()

    init() throws {
        process = Process()
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        process.executableURL = directory.appendingPathComponent("meshgate")
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read to the end: a full pipe would stop the server at its next log line.
        let handle = stderr.fileHandleForReading
        Thread.detachNewThread { [log] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while case let count = read(handle.fileDescriptor, &buffer, buffer.count), count > 0 {
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                log.text.withLock { if $0.utf8.count < 65536 { $0 += text } }
            }
        }
    }

    /// The port from the `listening` line.
    func port() async throws -> Int {
        try await eventually("meshgate serve to listen", within: .seconds(20)) {
            log.text.withLock { text in
                text.firstRange(of: "url=ws://127.0.0.1:").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
            }
        }
    }

    /// VmRSS from /proc/PID/status.
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else {
            throw Timeout(description: "no VmRSS for meshgate serve")
        }
        return kilobytes * 1024
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
