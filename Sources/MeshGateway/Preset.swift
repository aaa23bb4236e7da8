import Foundation

/// A media source described in gst-launch syntax, from a file in `pipelines/`.
///
/// Lines starting with `#` are comments; the first is the preset's summary. The
/// rest is one gst-launch description whose raw video leaves an element named
/// `video` and whose raw audio leaves one named `audio` (either may be absent:
/// that kind is then not sent). MeshGate scales, encodes and sends from there.
/// `${NAME}` takes the value of environment variable NAME. A decodebin named `loop`
/// plays its file in a loop; one named `file` does so with `--loop`.
public struct Preset: Sendable, Equatable {
    public let name: String
    public let summary: String
    public let description: String

    public init(name: String, text: String) {
        self.name = name
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        summary = lines.first { $0.hasPrefix("#") }.map { $0.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces) } ?? ""
        description = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }.joined(separator: " ")
    }

    /// Whether the description has an element of this name (`video` or `audio`).
    func names(_ element: String) -> Bool {
        description.range(of: #"(^|\s)name=\#(element)(\s|$)"#, options: .regularExpression) != nil
    }

    /// Loads `argument` as a file path, or else as the name of a preset in a `pipelines/` folder.
    public static func load(_ argument: String, searching folders: [URL] = Preset.folders) throws(GatewayError) -> Preset {
        var candidates = [URL(fileURLWithPath: argument)]
        if !argument.contains("/") {
            candidates += folders.map { $0.appendingPathComponent(argument.hasSuffix(".pipeline") ? argument : argument + ".pipeline") }
        }
        for url in candidates where FileManager.default.fileExists(atPath: url.path) {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw GatewayError("cannot read preset \(url.path): check its permissions")
            }
            let name = url.deletingPathExtension().lastPathComponent
            let preset = Preset(name: name, text: try expandingVariables(in: text, preset: name))
            guard !preset.description.isEmpty else { throw GatewayError("preset \(url.path) has no pipeline description") }
            guard preset.names("video") || preset.names("audio") else {
                throw GatewayError("preset \(url.path) names no element 'video' or 'audio': end its raw video at '... ! identity name=video'")
            }
            return preset
        }
        throw GatewayError("no preset '\(argument)': give a file, or one of the names `meshgate pipelines` lists")
    }

    /// Replaces each `${NAME}` with that environment variable, escaped for a quoted
    /// gst-launch value, so one preset serves any file or device.
    static func expandingVariables(in text: String, preset: String,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) throws(GatewayError) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            let variable = String(rest[start.upperBound..<end])
            guard let value = environment[variable] else {
                throw GatewayError("preset \(preset) needs \(variable): set it, e.g. `\(variable)=… meshgate join --pipeline \(preset)`")
            }
            result += rest[..<start.lowerBound]
            result += value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    /// Every preset found in the preset folders, by name.
    public static func all(in folders: [URL] = Preset.folders) -> [Preset] {
        var found: [String: Preset] = [:]
        for folder in folders {
            let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
            for file in files where file.pathExtension == "pipeline" {
                let name = file.deletingPathExtension().lastPathComponent
                if found[name] == nil, let text = try? String(contentsOf: file, encoding: .utf8) {
                    found[name] = Preset(name: name, text: text)
                }
            }
        }
        return found.values.sorted { $0.name < $1.name }
    }

    /// `$MESHGATE_PIPELINES`, `./pipelines`, and the `pipelines/` of the checkout or install the binary runs from.
    public static var folders: [URL] {
        var folders: [URL] = []
        if let custom = ProcessInfo.processInfo.environment["MESHGATE_PIPELINES"] { folders.append(URL(fileURLWithPath: custom)) }
        folders.append(URL(fileURLWithPath: "pipelines"))
        // The binary itself, wherever it was started from (arguments[0] is a bare name when found on PATH).
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // .build/<triple>/release/meshgate in a checkout; <prefix>/bin/meshgate when installed by
        // hand; /usr/lib/meshgate/meshgate from the package (`scripts/package`).
        folders.append(binary.appendingPathComponent("../../../pipelines").standardizedFileURL)
        folders.append(binary.appendingPathComponent("../share/meshgate/pipelines").standardizedFileURL)
        folders.append(binary.appendingPathComponent("../../share/meshgate/pipelines").standardizedFileURL)
        return folders
    }
}
