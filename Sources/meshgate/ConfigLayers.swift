import Configuration
import Foundation
import MeshGateway
import SystemPackage
import Yams

/// `--config FILE` and `MESHGATE_*`: each option the command line leaves out is taken from
/// the environment, else from the YAML file, and added to the arguments, so that
/// ArgumentParser checks every value the same way wherever it came from. Precedence:
/// flags > environment > file > defaults.
struct ConfigLayers {
    /// Where an option's value came from, as errors and `--print-config` name it.
    enum Origin: CustomStringConvertible {
        case commandLine
        case environment(String)
        case file(path: String, key: String)

        var description: String {
            switch self {
            case .commandLine: "the command line"
            case .environment(let name): "environment variable \(name)"
            case .file(let path, let key): "\(path): key '\(key)'"
            }
        }
    }

    /// A problem with the file or the environment: a usage error, exit status 2.
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    let options: CommandOptions
    /// The command line with what the environment and the file add.
    let arguments: [String]
    /// Where each option given came from, by name.
    let origins: [String: Origin]

    /// The arguments to parse for `commandLine` (without the program's name). Nil for a
    /// command that takes no options (or none at all).
    static func resolve(_ commandLine: [String], environment: [String: String]) async throws(Problem) -> ConfigLayers? {
        guard let subcommand = commandLine.first, !subcommand.hasPrefix("-"), let options = CommandOptions.of(subcommand) else { return nil }
        // After `--` nothing is an option.
        let given = commandLine.prefix { $0 != "--" }
        var origins: [String: Origin] = [:]
        for option in options.options where Self.names(option).contains(where: { Self.mentions(given, $0) }) {
            origins[option.name] = .commandLine
        }
        let path = Self.value(of: "config", in: given) ?? environment["MESHGATE_CONFIG"]
        var file: ConfigFile?
        if let path { file = try await ConfigFile.load(path, for: options) }
        let reader = ConfigReader(providers: [EnvironmentVariablesProvider().prefixKeys(with: "meshgate")] + (file.map { [$0.provider] } ?? []))
        var added: [String] = []
        for option in options.options where origins[option.name] == nil {
            let origin: Origin
            if environment[option.environmentName] != nil {
                origin = .environment(option.environmentName)
            } else if let file, file.keys.contains(option.name) {
                origin = .file(path: file.path, key: option.name)
            } else {
                continue
            }
            origins[option.name] = origin
            added += try Self.arguments(for: option, from: reader, origin: origin)
        }
        return ConfigLayers(options: options, arguments: Array(commandLine) + added, origins: origins)
    }

    /// The arguments that say what `reader` holds for `option`.
    private static func arguments(for option: CommandOptions.Option, from reader: ConfigReader, origin: Origin) throws(Problem) -> [String] {
        let key = ConfigKey(option.name)
        if option.isFlag {
            guard let on = try? reader.requiredBool(forKey: key) else {
                throw Problem(description: "\(origin): must be true or false")
            }
            if on { return ["--\(option.name)"] }
            return option.inversion.map { ["--\($0)"] } ?? []
        }
        if option.isRepeating {
            let values = (try? reader.requiredStringArray(forKey: key)) ?? (try? reader.requiredString(forKey: key)).map { [$0] }
            guard let values else { throw Problem(description: "\(origin): must be a value or a list of values") }
            return values.map { "--\(option.name)=\($0)" }
        }
        guard let value = try? reader.requiredString(forKey: key) else {
            throw Problem(description: "\(origin): must be a single value, not a list")
        }
        return ["--\(option.name)=\(value)"]
    }

    /// ArgumentParser's message for an error in a value from the environment or the file,
    /// with where the value came from in front.
    func explained(_ message: String) -> String {
        for option in options.options {
            guard let origin = origins[option.name] else { continue }
            if case .commandLine = origin { continue }
            guard Self.names(option).contains(where: { Self.mentions(message, flag: $0) }) else { continue }
            let error = "Error: "
            return message.hasPrefix(error) ? error + "\(origin): " + message.dropFirst(error.count) : "\(origin): \(message)"
        }
        return message
    }

    /// `--name` and its inversion.
    private static func names(_ option: CommandOptions.Option) -> [String] {
        [option.name] + (option.inversion.map { [$0] } ?? [])
    }

    private static func mentions(_ arguments: some Sequence<String>, _ name: String) -> Bool {
        arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
    }

    /// Whether `text` names `--name`, and not a longer flag that begins with it.
    private static func mentions(_ text: String, flag name: String) -> Bool {
        var rest = Substring(text)
        while let found = rest.range(of: "--\(name)") {
            let next = rest[found.upperBound...].first
            if next.map({ !($0.isLetter || $0.isNumber || $0 == "-") }) ?? true { return true }
            rest = rest[found.upperBound...]
        }
        return false
    }

    /// The value of `--name VALUE` or `--name=VALUE` in `arguments`, the last one given.
    static func value(of name: String, in arguments: some Collection<String>) -> String? {
        let list = Array(arguments)
        var found: String?
        for (index, argument) in list.enumerated() {
            if argument.hasPrefix("--\(name)=") {
                found = String(argument.dropFirst(name.count + 3))
            } else if argument == "--\(name)", index + 1 < list.count {
                found = list[index + 1]
            }
        }
        return found
    }
}

/// A YAML configuration file: its keys checked against the command's options.
struct ConfigFile {
    let path: String
    let keys: Set<String>
    let provider: FileProvider<YAMLSnapshot>

    static func load(_ path: String, for options: CommandOptions) async throws(ConfigLayers.Problem) -> ConfigFile {
        guard FileManager.default.fileExists(atPath: path) else { throw .init(description: "the config file \(path) does not exist") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .init(description: "cannot read the config file \(path): give a file readable by this user")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .init(description: "the config file \(path) is not UTF-8 text") }
        let keys = try Self.keys(of: text, path: path, options: options)
        do {
            let provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
            return ConfigFile(path: path, keys: keys, provider: provider)
        } catch {
            throw .init(description: "\(path): \(error)")
        }
    }

    /// The file's keys, each an option of the command whose value is a value or a list of
    /// values; anything else is refused with the file, the key and what is allowed.
    private static func keys(of text: String, path: String, options: CommandOptions) throws(ConfigLayers.Problem) -> Set<String> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw .init(description: "\(path) is not valid YAML: \(error)")
        }
        guard let root else { return [] }
        guard let mapping = root.mapping else {
            throw .init(description: "\(path): the file must be a mapping of option names to values (size: 640x480), one per line")
        }
        var keys: Set<String> = []
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "\(keyNode)"
            guard let option = options.option(named: key) else {
                let hint = CommandOptions.notConfigurable.contains(key) ? " (it cannot be set in a file)"
                    : options.suggestion(for: key).map { " (did you mean '\($0)'?)" } ?? ""
                throw .init(description: "\(path): unknown key '\(key)'\(hint): the keys are the long options of `meshgate \(options.command)` without their dashes, as `meshgate \(options.command) --help` lists them")
            }
            switch value {
            case .scalar:
                break
            case .sequence(let items) where option.isRepeating && items.allSatisfy({ $0.scalar != nil }):
                break
            default:
                let allowed = option.isFlag ? "true or false" : option.isRepeating ? "a value or a list of values" : "a single value"
                throw .init(description: "\(path): key '\(key)' must be \(allowed)")
            }
            keys.insert(key)
        }
        return keys
    }
}
