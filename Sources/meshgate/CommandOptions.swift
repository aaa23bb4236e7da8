import ArgumentParser
import Foundation

/// The long options of a subcommand, as ArgumentParser itself describes them (its
/// `--experimental-dump-help`): a configuration file's keys and `MESHGATE_*` variables
/// are exactly these, so they never drift from the flags.
struct CommandOptions {
    struct Option {
        let name: String
        let isFlag: Bool
        let isRepeating: Bool
        /// `no-ice-tcp` for `ice-tcp`: the flag that turns it off.
        let inversion: String?
        /// As ArgumentParser prints it; for a flag that is on by default, its own name.
        let defaultValue: String?

        /// `MESHGATE_MAX_ROOM_SIZE` for `max-room-size`.
        var environmentName: String { "MESHGATE_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
    }

    let command: String
    /// In the order `--help` lists them.
    let options: [Option]

    /// Options that say how to read the others, or what to do instead of running; never
    /// taken from a file or the environment.
    static let notConfigurable: Set<String> = ["help", "version", "config", "print-config"]

    /// Options whose value may be left out (`--play-audio` alone); ArgumentParser lists that
    /// value as their default, but without the option they are off.
    static let valueWhenAlone: Set<String> = ["play-audio"]

    /// The options of `meshgate SUBCOMMAND`, or nil when there is no such subcommand or it
    /// takes no `--config`.
    static func of(_ subcommand: String) -> CommandOptions? {
        let message: String
        do {
            _ = try MeshGate.parseAsRoot([subcommand, "--experimental-dump-help"])
            return nil
        } catch {
            message = MeshGate.fullMessage(for: error)
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(message.utf8)), dump.command.commandName == subcommand else { return nil }
        // Only a command that takes --config reads a file and the environment.
        guard (dump.command.arguments ?? []).contains(where: { $0.longName == "config" }) else { return nil }
        let flags = (dump.command.arguments ?? []).filter { $0.kind == "flag" }.compactMap(\.longName)
        var options: [Option] = []
        for argument in dump.command.arguments ?? [] {
            guard let name = argument.longName, argument.kind != "positional", !notConfigurable.contains(name) else { continue }
            // An inversion is listed as a flag of its own; it belongs to the flag it turns off.
            if name.hasPrefix("no-"), flags.contains(String(name.dropFirst(3))) { continue }
            options.append(Option(
                name: name, isFlag: argument.kind == "flag", isRepeating: argument.isRepeating ?? false,
                inversion: flags.contains("no-" + name) ? "no-" + name : nil,
                defaultValue: valueWhenAlone.contains(name) ? nil : argument.defaultValue ?? argument.statedDefault
            ))
        }
        return CommandOptions(command: subcommand, options: options)
    }

    func option(named name: String) -> Option? { options.first { $0.name == name } }

    /// The option a mistyped key most likely meant, if one is close.
    func suggestion(for key: String) -> String? {
        let scored = options.map { ($0.name, Self.distance($0.name, key)) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var next = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                next[j] = min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            row = next
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    private struct Dump: Decodable {
        struct Command: Decodable {
            let commandName: String
            let arguments: [Argument]?
        }

        struct Argument: Decodable {
            struct Name: Decodable {
                let kind: String
                let name: String
            }

            let kind: String
            let names: [Name]?
            let isRepeating: Bool?
            let defaultValue: String?
            let abstract: String?

            var longName: String? { names?.first { $0.kind == "long" }?.name }

            /// The default an option with a parsed value states in its help: `(default: 640x480)`.
            var statedDefault: String? {
                guard let abstract, let start = abstract.range(of: "(default: "), let end = abstract[start.upperBound...].firstIndex(of: ")") else { return nil }
                return String(abstract[start.upperBound..<end])
            }
        }

        let command: Command
    }
}
