import Foundation
import Logging

/// Shared plumbing of the two handlers: level, metadata, and writing whole
/// lines to stderr so that concurrent loggers never interleave within a line.
protocol LineLogHandler: LogHandler {
    var label: String { get }
    func format(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata, time: Date) -> String
}

extension LineLogHandler {
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = format(level: event.level, message: event.message, metadata: merged, time: Date()) + "\n"
        StandardError.write(line)
    }
}

enum StandardError {
    /// One `write(2)` per line keeps lines whole when threads log at once.
    static func write(_ line: String) {
        FileHandle.standardError.write(Data(line.utf8))
    }
}

let timestampFormat: Date.ISO8601FormatStyle = .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)

/// Human lines: time, level, message, then `key=value` pairs sorted by key.
public struct TextLogHandler: LineLogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let label: String

    public init(label: String) { self.label = label }

    func format(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata, time: Date) -> String {
        var line = "\(time.formatted(timestampFormat)) \(level) \(LogText.escaped(message.description))"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(LogText.escaped(key))=\(Self.quoteIfNeeded("\(value)"))"
        }
        return line
    }

    static func quoteIfNeeded(_ value: String) -> String {
        if !value.isEmpty, !value.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || LogText.isUnsafe($0) }) {
            return value
        }
        return "\"\(LogText.escaped(value, quotes: true))\""
    }
}

/// What a log line may not carry raw: values come from clients, and a control
/// character in a terminal or a log viewer moves the cursor, forges a line, or
/// hides text (ESC sequences, CR, NUL, bidi overrides).
enum LogText {
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: scalar.properties.isBidiControl
        }
    }

    /// `\n`, `\r`, `\t` and `\u{1B}` for the unsafe characters; with `quotes`, also `\"` and `\\`.
    static func escaped(_ text: String, quotes: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) || (quotes && ($0 == "\"" || $0 == "\\")) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": result.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": result.append(contentsOf: #"\t"#.unicodeScalars)
            case "\"" where quotes, "\\" where quotes:
                result.append("\\")
                result.append(scalar)
            case _ where isUnsafe(scalar):
                result.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}

/// Machine lines: one JSON object per line with `ts`, `level`, `msg`, `logger` and the metadata.
public struct JSONLogHandler: LineLogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let label: String

    public init(label: String) { self.label = label }

    func format(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata, time: Date) -> String {
        var object: [String: Any] = [:]
        for (key, value) in metadata { object[key] = Self.json(value) }
        object["ts"] = time.formatted(timestampFormat)
        object["level"] = level.rawValue
        object["msg"] = message.description
        object["logger"] = label
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return #"{"level":"error","msg":"log line could not be encoded"}"#
        }
        return Self.escapingRest(String(decoding: data, as: UTF8.self))
    }

    /// JSON escapes C0 controls but leaves DEL, C1 controls, line separators and bidi
    /// overrides raw; they can only be inside strings, where `\uXXXX` means the same.
    static func escapingRest(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: LogText.isUnsafe) else { return json }
        var result = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            guard LogText.isUnsafe(scalar) else { result.append(scalar); continue }
            let hex = String(scalar.value, radix: 16)
            result.append(contentsOf: ("\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex).unicodeScalars)
        }
        return String(result)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): array.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }
}
