import Foundation
import MeshTestSupport
import Testing

/// A recording that cannot be written (a full disk) stops with a line naming the peer and the
/// file; the call goes on and the file keeps what was written.
@Suite(.serialized)
struct RecordingFaultTests {
    /// A tmpfs of `size` at a new folder; nil where this test run may not mount (it needs
    /// root in its own mount namespace, which `scripts/test` gives).
    static func smallDisk(size: String) throws -> String? {
        let directory = try temporaryDirectory("full-disk")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(size)", "meshgate-test", directory]
        mount.standardError = FileHandle.nullDevice
        try mount.run()
        mount.waitUntilExit()
        return mount.terminationStatus == 0 ? directory : nil
    }

    static func unmount(_ directory: String) {
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = ["-l", directory]
        try? umount.run()
        umount.waitUntilExit()
    }

    @Test func aFullDiskStopsThatRecordingAndTheCallGoesOn() async throws {
        guard let directory = try Self.smallDisk(size: "300k") else {
            try Test.cancel("cannot mount a small tmpfs here: run the tests as root through scripts/test")
        }
        defer { Self.unmount(directory) }
        try await Call.run { call in
            _ = try await call.join("sender", record: false) { $0.bitrate = 1000 }
            let recorder = try MeshgateProcess(["join", "--server", call.url + "/", "--id", "recorder", "--video", "none", "--audio", "none",
                                                "--record", directory, "--ice-address", "127.0.0.1", "--stats", "0.5"])
            defer { recorder.signal(SIGKILL) }
            do {
                try await eventually("the disk to fill and the recording to stop", within: .seconds(30)) {
                    recorder.stderr.contains("recording stopped") ? true : nil
                }
            } catch {
                throw Timeout(description: "\(error); log: \(recorder.stderr.suffix(3000))")
            }
            let line = recorder.stderr.split(separator: "\n").first { $0.contains("recording stopped") } ?? ""
            #expect(line.contains("error") && line.contains("peer=sender") && line.contains(directory), "\(line)")

            // Frames keep arriving and the peer stays connected, after the failure.
            func frames() -> (count: Int, state: String)? {
                guard let last = recorder.stdout.split(separator: "\n").last,
                      let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
                      let count = object["frames_in"] as? Int, let state = object["state"] as? String else { return nil }
                return (count, state)
            }
            let before = try await eventually("a stats line") { frames() }
            let after: (count: Int, state: String)
            do {
                after = try await eventually("frames to keep arriving", within: .seconds(10)) {
                    frames().flatMap { $0.count > before.count + 15 ? $0 : nil }
                }
            } catch {
                throw Timeout(description: "\(error); stats: \(recorder.stdout.suffix(600)); log: \(recorder.stderr.suffix(2000))")
            }
            #expect(after.state == "connected")

            recorder.signal(SIGTERM)
            #expect(try await recorder.exitCode() == 0, "\(recorder.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mkv") }
            #expect(files.count == 1, "\(files)")
            try await expectRecording(files.first.map { "\(directory)/\($0)" })
        }
    }
}
