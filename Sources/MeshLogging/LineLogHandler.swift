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
        var line = "\(time.formatted(timestampFormat)) \(level) \(message)"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoteIfNeeded("\(value)"))"
        }
        return line
    }

    static func quoteIfNeeded(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) {
            return value
        }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
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
        return String(decoding: data, as: UTF8.self)
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
