import MeshGateway

extension ConfigLayers {
    /// `--print-config`: every option with the value the command runs with and where it
    /// came from, secrets masked, as YAML a configuration file can start from.
    func printed() -> String {
        var lines = ["# meshgate \(options.command): the configuration it runs with (options > MESHGATE_* > --config file > defaults)"]
        for option in options.options {
            let origin = origins[option.name]
            let source = origin.map { "  # from \($0)" } ?? "  # default"
            if option.isFlag {
                lines.append("\(option.name): \(flagValue(option))" + source)
                continue
            }
            let values = values(of: option)
            if values.isEmpty {
                if let value = option.defaultValue {
                    lines.append("\(option.name): \(Self.yaml(Self.shown(value, of: option.name)))" + source)
                } else {
                    lines.append("# \(option.name): (not set)")
                }
            } else if option.isRepeating {
                lines.append("\(option.name): [\(values.map { Self.yaml(Self.shown($0, of: option.name)) }.joined(separator: ", "))]" + source)
            } else if let last = values.last {
                lines.append("\(option.name): \(Self.yaml(Self.shown(last, of: option.name)))" + source)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A flag's value: the last of it and its inversion given, else its default.
    private func flagValue(_ option: CommandOptions.Option) -> Bool {
        let given = arguments.prefix { $0 != "--" }
        let on = given.lastIndex(of: "--\(option.name)")
        let off = option.inversion.flatMap { given.lastIndex(of: "--\($0)") }
        switch (on, off) {
        case (let on?, let off?): return on > off
        case (_?, nil): return true
        case (nil, _?): return false
        case (nil, nil): return option.defaultValue != nil
        }
    }

    /// Every value given to an option, in order: `--name=VALUE` and `--name VALUE`.
    private func values(of option: CommandOptions.Option) -> [String] {
        let given = Array(arguments.prefix { $0 != "--" })
        var values: [String] = []
        for (index, argument) in given.enumerated() {
            if argument.hasPrefix("--\(option.name)=") {
                values.append(String(argument.dropFirst(option.name.count + 3)))
            } else if argument == "--\(option.name)" {
                // An option whose value may be left out (--play-audio) takes its default then.
                let next = index + 1 < given.count && !given[index + 1].hasPrefix("--") ? given[index + 1] : option.defaultValue
                if let next { values.append(next) }
            }
        }
        return values
    }

    /// What may be shown of a value: tokens and passwords masked, a stream key too.
    static func shown(_ value: String, of name: String) -> String {
        if name == "token" { return "***" }
        if name == "compose", let target = ComposeTarget(value) { return target.shown }
        return value.contains("://") ? Redacted.url(value) : value
    }

    /// A YAML scalar: numbers and booleans as they are, anything else quoted.
    static func yaml(_ value: String) -> String {
        if Double(value) != nil || value == "true" || value == "false" { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}
