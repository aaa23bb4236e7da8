import Foundation
import MeshTestSupport
import Synchronization

/// The built `meshgate` binary run as a user runs it, its output collected.
final class MeshgateProcess: Sendable {
    private let process: Process
    private final class Output: Sendable {
        let text = Mutex<(stdout: String, stderr: String)>(("", ""))
    }
    private let output = Output()

    /// `meshgate` sits beside the test bundle in the build folder.
    static var binary: String {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundle.appendingPathComponent("meshgate").path
    }

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        for (pipe, isError) in [(stdout, false), (stderr, true)] {
            pipe.fileHandleForReading.readabilityHandler = { [output] handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                output.text.withLock { isError ? ($0.stderr += text) : ($0.stdout += text) }
            }
        }
        try process.run()
    }

    var stdout: String { output.text.withLock { $0.stdout } }
    var stderr: String { output.text.withLock { $0.stderr } }

    /// Waits for the process to exit (killing it after `limit`, a guard against hangs); returns its status.
    func exitCode(within limit: Duration = .seconds(30)) async throws -> Int32 {
        do {
            try await eventually("meshgate to exit", within: limit) { process.isRunning ? nil : true }
        } catch {
            process.terminate()
            throw Timeout(description: "meshgate did not exit; stderr: \(stderr)")
        }
        // Let the readability handlers take the last output.
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Runs to the end and returns status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try MeshgateProcess(arguments, environment: environment)
        let status = try await process.exitCode()
        return (status, process.stdout, process.stderr)
    }
}
