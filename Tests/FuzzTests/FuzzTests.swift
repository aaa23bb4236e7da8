import Foundation
import Testing

/// Every fuzz target for a few seconds, from its committed seeds and what earlier runs on this
/// machine found (scripts/fuzz builds them with libFuzzer and the address sanitizer). Long runs
/// are for people: `scripts/fuzz TARGET 600`.
@Suite struct FuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(.timeLimit(.minutes(3)), arguments: ["message", "switchboard", "sdp"])
    func findsNothingInTenSeconds(target: String) throws {
        let fuzz = Process()
        fuzz.executableURL = Self.root.appendingPathComponent("scripts/fuzz")
        fuzz.arguments = [target, "10"]
        let output = Pipe()
        fuzz.standardOutput = output
        fuzz.standardError = output
        try fuzz.run()
        // scripts/fuzz says little (libFuzzer writes to a log file), so reading to the end
        // before waiting cannot fill the pipe.
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        fuzz.waitUntilExit()
        #expect(fuzz.terminationStatus == 0, "scripts/fuzz \(target) 10:\n\(said)")
    }
}
