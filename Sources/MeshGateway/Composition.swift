import Foundation

/// Where `--compose` sends the composed call, and what that needs: a container and its
/// codecs. Pure, so that every destination's pipeline is tested without writing one.
public enum ComposeTarget: Equatable, Sendable {
    case file(path: String, container: Container)
    /// An RTMP server (`rtmp://`, `rtmps://`): live streaming to a platform.
    case rtmp(url: String)

    public enum Container: Equatable, Sendable {
        case matroska, mp4
    }

    public static let forms = "a .mkv or .mp4 file, or an rtmp:// or rtmps:// URL"

    /// Parses DEST; nil when it is none of ``forms``.
    public init?(_ argument: String) {
        let lowered = argument.lowercased()
        if lowered.hasPrefix("rtmp://") || lowered.hasPrefix("rtmps://") {
            guard let url = URL(string: argument), url.host?.isEmpty == false else { return nil }
            self = .rtmp(url: argument)
        } else if lowered.hasSuffix(".mkv"), argument.count > 4 {
            self = .file(path: argument, container: .matroska)
        } else if lowered.hasSuffix(".mp4"), argument.count > 4 {
            self = .file(path: argument, container: .mp4)
        } else {
            return nil
        }
    }

    /// Encodes the mixed audio for the container: Opus in Matroska; AAC where players and
    /// RTMP servers expect it.
    var audioEncoder: String {
        switch self {
        case .file(_, .matroska): "opusenc bitrate=96000"
        case .file(_, .mp4), .rtmp: "avenc_aac bitrate=128000 ! aacparse"
        }
    }

    /// The muxer, named `mux`, and the sink, named `sink`, as a gst-launch description.
    var output: String {
        switch self {
        case .file(let path, .matroska):
            "matroskamux name=mux ! filesink name=sink async=false location=\(SendGraph.quoted(path))"
        case .file(let path, .mp4):
            "mp4mux name=mux ! filesink name=sink async=false location=\(SendGraph.quoted(path))"
        case .rtmp(let url):
            // flvmux goes on without a stream that has no data in time and never takes it back:
            // the encoder's first frame comes well after the first audio.
            "flvmux name=mux streamable=true latency=2000000000 ! rtmp2sink name=sink async=false location=\(SendGraph.quoted(url))"
        }
    }

    /// How it is named in logs: a stream's key (the URL's last part) is a secret.
    public var shown: String {
        switch self {
        case .file(let path, _): return path
        case .rtmp(let url):
            let redacted = Redacted.url(url)
            guard let scheme = redacted.range(of: "://"), let slash = redacted[scheme.upperBound...].lastIndex(of: "/") else { return redacted }
            return redacted[...slash] + Redacted.mask
        }
    }
}

/// Where each tile of the composed picture goes: a grid as square as it can be, the last
/// row centred, every size even (the encoder's 4:2:0 needs it).
enum GridLayout {
    struct Cell: Equatable, Sendable {
        let x: Int
        let y: Int
        let width: Int
        let height: Int
    }

    static func cells(count: Int, width: Int, height: Int) -> [Cell] {
        guard count > 0 else { return [] }
        var columns = 1
        while columns * columns < count { columns += 1 }
        let rows = (count + columns - 1) / columns
        let cellWidth = width / columns / 2 * 2, cellHeight = height / rows / 2 * 2
        var cells: [Cell] = []
        for index in 0..<count {
            let row = index / columns, column = index % columns
            let inRow = row == rows - 1 ? count - row * columns : columns
            let left = (width - inRow * cellWidth) / 2 / 2 * 2
            cells.append(Cell(x: left + column * cellWidth, y: (height - rows * cellHeight) / 2 / 2 * 2 + row * cellHeight,
                              width: cellWidth, height: cellHeight))
        }
        return cells
    }
}

/// A participant's name as a tile's label: textoverlay reads Pango markup, and names come
/// from the network.
enum TileLabel {
    static let maxCharacters = 40

    static func markup(_ name: String) -> String {
        let printable = name.filter { character in
            !character.isNewline && !character.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }
        let shown = printable.count > maxCharacters ? printable.prefix(maxCharacters) + "…" : printable
        return shown.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
