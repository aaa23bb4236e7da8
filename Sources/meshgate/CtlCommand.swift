import ArgumentParser
import Foundation

struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Control a running `meshgate join --control PATH`: list its peers, mute, unmute, switch sources, record, leave.",
        discussion: """
            COMMAND is one of:
              peers                  each peer: id, name, state, video codec, kbit/s in and out, recording
              mute video|audio       send black frames or silence; connections and encoders stay
              unmute video|audio     send the source again
              source video SOURCE    feed the video encoders from test, v4l2[:DEVICE], file:PATH,
                                     a network URI (rtsp://, http(s)://, srt://) or original
              source audio SOURCE    feed the audio encoder from test[:HZ], alsa[:DEVICE], file:PATH,
                                     a network URI or original
                                     (a file plays once, or with --loop over and over; when it or
                                     a stream ends, the source the gateway started with returns)
              record start DIR       record each peer into DIR (a file per peer), from now on
              record stop            finalise the recordings
              leave                  leave the call (as SIGTERM does)
            """
    )

    @Option(help: ArgumentHelp("The gateway's control socket, as given to `join --control`.", valueName: "PATH"))
    var control: String

    @Flag(help: "Print the gateway's answer as JSON.")
    var json = false

    @Flag(help: "With `source` and a file: play it over and over until another source is switched in.")
    var loop = false

    @Argument(help: ArgumentHelp("What to do: peers, mute video|audio, unmute video|audio, source video|audio SOURCE, record start DIR, record stop, leave.", valueName: "COMMAND"))
    var command: [String]

    /// The request a command is, or a usage error saying what is allowed.
    static func request(for words: [String], loop: Bool = false) throws(ValidationError) -> (method: String, target: String, body: Data) {
        if loop, words.first != "source" { throw ValidationError("--loop goes with source video|audio file:PATH") }
        switch words {
        case ["peers"]: return ("GET", "/peers", Data())
        case ["leave"]: return ("POST", "/leave", Data())
        case ["record", "stop"]: return ("POST", "/record/stop", Data())
        case let words where words.count == 3 && words[0] == "record" && words[1] == "start":
            let body = (try? JSONSerialization.data(withJSONObject: ["directory": absolute(words[2])])) ?? Data()
            return ("POST", "/record/start", body)
        case let words where words.count == 3 && words[0] == "source" && ["video", "audio"].contains(words[1]):
            var source = words[2]
            if source.hasPrefix("file:"), source.count > 5 { source = "file:" + absolute(String(source.dropFirst(5))) }
            let body = (try? JSONSerialization.data(withJSONObject: ["source": source, "loop": loop] as [String: Any])) ?? Data()
            return ("POST", "/source/\(words[1])", body)
        case let words where words.first == "source":
            throw ValidationError("source takes video or audio, then a source: test, v4l2[:DEVICE], alsa[:DEVICE], file:PATH, a network URI, original")
        case let words where words.first == "record":
            throw ValidationError("record takes start DIR or stop")
        case let words where words.count == 2 && ["mute", "unmute"].contains(words[0]):
            guard ["video", "audio"].contains(words[1]) else { throw ValidationError("\(words[0]) takes video or audio, not '\(words[1])'") }
            return ("POST", "/\(words[0])/\(words[1])", Data())
        default:
            throw ValidationError("unknown command '\(words.joined(separator: " "))': give peers, mute video|audio, unmute video|audio, source video|audio SOURCE, record start DIR, record stop, or leave")
        }
    }

    /// The gateway runs elsewhere: a relative path is this shell's.
    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
    }

    func validate() throws {
        _ = try Self.request(for: command, loop: loop)
    }

    func run() throws {
        let (method, target, body) = try Self.request(for: command, loop: loop)
        let answer = try ControlClient.request(method, target, body: body, at: control)
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: answer.body, options: [.sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
        }
        guard answer.body["ok"] as? Bool == true else {
            throw RuntimeFailure(answer.body["error"] as? String ?? "the gateway refused (HTTP \(answer.status))")
        }
        guard !json else { return }
        if let peers = answer.body["peers"] as? [[String: Any]] {
            print(Self.table(peers))
        } else if let message = answer.body["message"] as? String {
            print(message)
        }
    }

    /// `meshgate ctl peers` for a person: one line per peer, columns aligned.
    static func table(_ peers: [[String: Any]]) -> String {
        let columns = [("ID", "id"), ("NAME", "name"), ("STATE", "state"), ("CODEC", "video_codec"),
                       ("KBPS_IN", "kbps_in"), ("KBPS_OUT", "kbps_out"), ("RECORDING", "recording")]
        let rows = [columns.map(\.0)] + peers.map { peer in columns.map { column in peer[column.1].map { "\($0)" } ?? "-" } }
        let widths = columns.indices.map { index in rows.map { $0[index].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + (peers.isEmpty ? "\n(no peers)" : "")
    }
}
