import Foundation
import MeshTestSupport
import Synchronization

/// The built `meshgate` binary run as a user runs it (or another program a test needs), its
/// output collected.
final class MeshgateProcess: Sendable {
    private let process: Process
    /// The program's name, for errors.
    private let name: String
    private final class Output: Sendable {
        let text = Mutex<(stdout: String, stderr: String, openStreams: Int)>(("", "", 2))
    }
    private let output = Output()
    /// Its stdin, when the test writes to it.
    private let input: FileHandle?

    /// `meshgate` sits beside the test bundle in the build folder.
    static var binary: String {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundle.appendingPathComponent("meshgate").path
    }

    /// - Parameter input: give the process a stdin the test writes (``write(line:)``); else it has none.
    init(_ arguments: [String], environment: [String: String] = [:], executable: String = binary, input: Bool = false) throws {
        process = Process()
        name = URL(fileURLWithPath: executable).lastPathComponent
        let stdin = Pipe()
        if input { process.standardInput = stdin }
        self.input = input ? stdin.fileHandleForWriting : nil
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // A thread per pipe reads until the process's end closes it. (FileHandle's
        // readabilityHandler can crash libdispatch when the pipe goes away under it.)
        for (pipe, isError) in [(stdout, false), (stderr, true)] {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [output] in
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while case let count = read(handle.fileDescriptor, &buffer, buffer.count), count > 0 {
                    let text = String(decoding: buffer[..<count], as: UTF8.self)
                    output.text.withLock { isError ? ($0.stderr += text) : ($0.stdout += text) }
                }
                output.text.withLock { $0.openStreams -= 1 }
                try? handle.close()
            }
        }
    }

    /// A test that fails half-way must not leave its meshgate running.
    deinit {
        if process.isRunning { process.terminate() }
    }

    var stdout: String { output.text.withLock { $0.stdout } }
    var stderr: String { output.text.withLock { $0.stderr } }

    /// Waits for the process to exit (killing it after `limit`, a guard against hangs); returns its status.
    func exitCode(within limit: Duration = .seconds(30)) async throws -> Int32 {
        do {
            try await eventually("\(name) to exit", within: limit) { process.isRunning ? nil : true }
        } catch {
            process.terminate()
            throw Timeout(description: "\(name) did not exit; stderr: \(stderr)")
        }
        try await eventually("meshgate's output to end") { output.text.withLock { $0.openStreams == 0 } ? true : nil }
        return process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Writes `line` and a newline to its stdin.
    func write(line: String) {
        input?.write(Data((line + "\n").utf8))
    }

    var pid: Int32 { process.processIdentifier }

    var isRunning: Bool { process.isRunning }

    /// Runs to the end and returns status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try MeshgateProcess(arguments, environment: environment)
        let status = try await process.exitCode()
        return (status, process.stdout, process.stderr)
    }
}
