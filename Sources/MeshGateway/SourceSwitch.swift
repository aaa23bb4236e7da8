import Foundation
import GStreamer
import Synchronization

/// `meshgate ctl source`: another source for a kind, switched in at the kind's
/// input-selector, ahead of the encoders. What follows the selector (the encoders, every
/// peer's branch) stays as it is: nothing is renegotiated. The source the gateway started
/// with keeps running meanwhile, so switching back to it is instant. Used from the loop only.
final class SourceSwitch {
    /// What a kind can be switched to.
    enum Target: Equatable {
        case original
        case test(hertz: Int?)
        case camera(String?)
        case microphone(String?)
        /// An absolute path: played by the clock from the moment it is switched in.
        case file(String)
        /// `rtsp://`, `http(s)://`, `srt://`…: live, as the started sources are.
        case network(String)

        /// `original`, `test`, `test:HZ` (audio), `v4l2[:DEVICE]` (video), `alsa[:DEVICE]`
        /// (audio), `file:/ABSOLUTE/PATH`, a network URI.
        init(_ text: String, kind: MediaKind) throws(GatewayError) {
            if URISource.isNetwork(text) {
                self = .network(text)
                return
            }
            let (name, argument) = text.firstIndex(of: ":").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, nil)
            switch (name, kind) {
            case ("original", _) where argument == nil: self = .original
            case ("test", .video) where argument == nil: self = .test(hertz: nil)
            case ("test", .audio):
                guard let argument else { self = .test(hertz: 440); return }
                guard let hertz = Int(argument), (20...20000).contains(hertz) else { throw GatewayError("test:HZ takes 20 to 20000 Hz, not '\(argument)'") }
                self = .test(hertz: hertz)
            case ("v4l2", .video): self = .camera(argument.flatMap { $0.isEmpty ? nil : $0 })
            case ("alsa", .audio): self = .microphone(argument.flatMap { $0.isEmpty ? nil : $0 })
            case ("file", _):
                // The gateway may run in another folder than the asker: `meshgate ctl` makes
                // a relative path absolute.
                guard let argument, argument.hasPrefix("/") else { throw GatewayError("file: takes an absolute path, not '\(argument ?? "")'") }
                self = .file(argument)
            default:
                let allowed = kind == .video ? "original, test, v4l2[:DEVICE]" : "original, test[:HZ], alsa[:DEVICE]"
                throw GatewayError("\(kind.rawValue) can be switched to \(allowed), file:PATH or a network URI (\(URISource.networkSchemes.joined(separator: ", "))), not '\(Redacted.url(text))'")
            }
        }

        var shown: String {
            switch self {
            case .original: "the source it started with"
            case .test(nil): "the test pattern"
            case .test(let hertz?): "a \(hertz) Hz tone"
            case .camera(let device): "the camera \(device ?? "(default)")"
            case .microphone(let device): "the microphone \(device ?? "(default)")"
            case .file(let path): "the file \(path)"
            case .network(let uri): "the stream \(Redacted.url(uri))"
            }
        }

        /// A file's timestamps start at zero wherever the call is: it is paced by the clock
        /// from the running time it starts at.
        var isFile: Bool {
            if case .file = self { true } else { false }
        }

        var isNetwork: Bool {
            if case .network = self { true } else { false }
        }

        /// What opens it, when a uridecodebin does.
        var uri: String? {
            switch self {
            case .file(let path): URISource(file: path).uri
            case .network(let uri): uri
            default: nil
            }
        }
    }

    /// Errors the bus reported from inside switched-in bins, by bin: the loop is busy
    /// switching while a source fails to start, so the bus handler notes them here.
    final class Errors: Sendable {
        private let first = Mutex<[String: String]>([:])

        /// Notes the first error from inside a switched-in bin (a bus message's source path).
        func note(source path: String, text: String) {
            guard let bin = path.split(separator: "/").first(where: { $0.hasPrefix(SourceSwitch.binPrefix) }) else { return }
            first.withLock { errors in
                if errors[String(bin)] == nil { errors[String(bin)] = text }
            }
        }

        fileprivate func take(_ bin: String) -> String? {
            first.withLock { $0.removeValue(forKey: bin) }
        }
    }

    /// The bins' names start with this: a bus error from inside one is the switch's.
    static let binPrefix = "switch_"

    /// A source switched in: its bin, its selector pad, and what it is, to start it over.
    private struct Switched {
        let bin: Bin
        let pad: Pad
        let target: Target
        let loop: Bool
    }

    private let pipeline: Pipeline
    private let latency: Int
    private let errors: Errors
    private let ended: @Sendable (String) -> Void
    private var current: [MediaKind: Switched] = [:]
    /// The selector pad of the source the gateway started with.
    private var originals: [MediaKind: Pad] = [:]
    private var serial = 0

    /// `latency` is a network source's jitter buffer (`--source-latency`); `ended` is called,
    /// from a streaming thread, with a bin's name when its source ends.
    init(pipeline: Pipeline, latency: Int, errors: Errors, ended: @escaping @Sendable (String) -> Void) {
        self.pipeline = pipeline
        self.latency = latency
        self.errors = errors
        self.ended = ended
    }

    /// Whether a bus message's source (`/meshgate/switch_video_1/…`) is a switched-in source.
    static func owns(_ path: String) -> Bool {
        path.split(separator: "/").contains { $0.hasPrefix(binPrefix) }
    }

    /// Feeds `kind`'s encoders from `target`, once its first buffer arrived; throws, with
    /// everything as it was, when it does not start. A file plays once, or with `loop` over
    /// and over, until another source is switched in.
    func switchTo(_ target: Target, kind: MediaKind, loop: Bool = false) async throws(GatewayError) {
        guard let selector = pipeline.element(named: SendGraph.selector(kind)), let output = selector.staticPad("src") else {
            throw GatewayError("\(kind.rawValue) cannot be switched here: the gateway sends none, or passes its source's through as it comes")
        }
        // The first of its pads, made when the pipeline was built, is the started source's.
        if originals[kind] == nil {
            originals[kind] = selector.staticPad("sink_0")
            // Each source has its own latency: one switched in, or back, may start behind.
            output.keepTimeMoving()
        }
        guard let original = originals[kind] else { throw GatewayError("the \(kind.rawValue) selector has no source yet") }
        if case .camera(let device?) = target, !FileManager.default.fileExists(atPath: device) {
            throw GatewayError("no camera at \(device): list cameras with `meshgate devices`")
        }
        if case .file(let path) = target, !FileManager.default.isReadableFile(atPath: path) {
            throw GatewayError("cannot read \(path): check the path and its permissions")
        }
        if loop, !target.isFile { throw GatewayError("only a file loops; \(target.shown) plays as long as it lasts") }
        guard target != .original else {
            selector.set("active-pad", pad: original)
            await removeCurrent(kind, from: selector)
            return
        }
        guard let caps = output.currentCaps?.description else { throw GatewayError("no \(kind.rawValue) has flowed yet: switch once the call runs") }
        serial += 1
        let name = "\(Self.binPrefix)\(kind.rawValue)_\(serial)"
        let pipeline = pipeline
        let bin: Bin
        do {
            bin = try await GStreamer.blocking { () throws -> Bin in try Self.makeBin(target, kind: kind, caps: caps, name: name) }
        } catch {
            throw GatewayError("cannot make \(target.shown): \(error)")
        }
        if case .network = target { bin.element(named: "open")?.setSourceLatency(milliseconds: latency) }
        guard let source = bin.staticPad("src"), let pad = selector.requestPad("sink_%u") else { throw GatewayError("the \(kind.rawValue) selector takes no more sources") }
        let arrived = BufferCounter()
        source.countBuffers(into: arrived)
        // Its end must not reach the encoders: that would end the call.
        let ended = ended
        source.replaceEOS { ended(name) }
        // What a uridecodebin opens waits after its first frame, to be timed from when that
        // arrived: a file's time starts at zero, and a stream's segment may well start
        // where its first packet was, both behind the call's (an offset on a source pad:
        // its segment goes out again with it).
        let waiting = target.uri != nil ? bin.element(named: "shaped")?.staticPad("src")?.holdAfterFirstBufferNotingTime() : nil
        await GStreamer.blocking { pipeline.add(bin) }
        do {
            try source.link(pad)
        } catch {
            await remove(bin, pad: pad, from: selector)
            throw GatewayError("cannot link \(target.shown): \(error)")
        }
        await GStreamer.blocking { bin.syncStateWithParent() }
        let wait: Duration = target.isNetwork ? .seconds(10) : .seconds(5)
        let deadline = ContinuousClock.now + wait
        var failure: String?
        while arrived.value == 0, ContinuousClock.now < deadline, failure == nil {
            try? await Task.sleep(for: .milliseconds(50))
            failure = errors.take(name)
        }
        guard arrived.value > 0, failure == nil else {
            await remove(bin, pad: pad, from: selector)
            let reason = failure.map { ": \($0)" } ?? " within \(wait.components.seconds) s"
            throw GatewayError("\(target.shown) gave no \(kind.rawValue)\(reason); \(kind.rawValue) goes on as before")
        }
        if let waiting {
            if let now = pipeline.runningTime.map({ Int($0) }), let first = waiting.firstRunningTime {
                waiting.probe.pad.setOffset(nanoseconds: now - first)
            }
            waiting.release()
        }
        selector.set("active-pad", pad: pad)
        await removeCurrent(kind, from: selector)
        current[kind] = Switched(bin: bin, pad: pad, target: target, loop: loop)
    }

    /// A switched-in source failed (a bus error from inside it): back to the original.
    func failed(inPath path: String) async -> MediaKind? {
        let names = path.split(separator: "/")
        guard let kind = current.first(where: { names.contains(Substring($0.value.bin.name)) })?.key else { return nil }
        await backToOriginal(kind)
        return kind
    }

    /// What became of a switched-in source that ended.
    enum Ending {
        /// A looped file: it plays from its start again.
        case restarted(MediaKind)
        /// The source the gateway started with is back; with why a looped file could not start over.
        case original(MediaKind, String?)
    }

    /// The bin named `name` ended its stream: a looped file starts over, anything else gives
    /// way to the source the gateway started with. Nil when that bin has gone already.
    func ended(bin name: String) async -> Ending? {
        guard let (kind, switched) = current.first(where: { $0.value.bin.name == name }) else { return nil }
        var reason: String?
        if switched.loop {
            do throws(GatewayError) {
                try await switchTo(switched.target, kind: kind, loop: true)
                return .restarted(kind)
            } catch {
                reason = error.description
            }
        }
        await backToOriginal(kind)
        return .original(kind, reason)
    }

    private func backToOriginal(_ kind: MediaKind) async {
        guard let selector = pipeline.element(named: SendGraph.selector(kind)), let original = originals[kind] else { return }
        selector.set("active-pad", pad: original)
        await removeCurrent(kind, from: selector)
    }

    private func removeCurrent(_ kind: MediaKind, from selector: Element) async {
        guard let switched = current.removeValue(forKey: kind) else { return }
        await remove(switched.bin, pad: switched.pad, from: selector)
    }

    private func remove(_ bin: Bin, pad: Pad, from selector: Element) async {
        let pipeline = pipeline
        await GStreamer.blocking {
            bin.setState(.null)
            selector.releaseRequestPad(pad)
            pipeline.remove(bin)
        }
        _ = errors.take(bin.name)
    }

    /// The source and what shapes it into the selector's `caps`; its `src` pad feeds the selector.
    private static func makeBin(_ target: Target, kind: MediaKind, caps: String, name: String) throws -> Bin {
        let shape = (kind == .video ? "videoconvert name=convert ! videoscale ! videorate" : "audioconvert name=convert ! audioresample")
            + " ! capsfilter name=shaped caps=\(SendGraph.quoted(caps))"
        guard let uri = target.uri else {
            let live: String = switch target {
            case .test(nil): "videotestsrc is-live=true pattern=smpte"
            case .test(let hertz?): "audiotestsrc is-live=true wave=sine freq=\(hertz) volume=0.2"
            case .camera(let device): "\(SendGraph.camera(device)) ! decodebin"
            case .microphone(let device): "alsasrc" + (device.map { " device=\(SendGraph.quoted($0))" } ?? "")
            case .original, .file, .network: ""
            }
            return try Bin.parse(live + " ! " + shape, name: name)
        }
        let bin = try Bin.parse(shape + (target.isFile ? " ! clocksync name=pace" : ""), name: name, ghostingUnlinkedPads: false)
        // A uridecodebin prerolls: alone, that would take the playing pipeline back to paused.
        bin.set("async-handling", true)
        guard let convert = bin.element(named: "convert")?.staticPad("sink"),
              let last = bin.element(named: target.isFile ? "pace" : "shaped")?.staticPad("src") else {
            throw GatewayError("the \(kind.rawValue) shaping has no pads")
        }
        try bin.addGhostPad(named: "src", for: last)
        let open = try Element.make("uridecodebin", name: "open")
        open.set("uri", uri)
        // The other kind stops undecoded where it can: it only goes to a fakesink.
        if kind == .audio { open.set("caps", "audio/x-raw;video/x-raw;video/x-h264;video/x-h265;video/x-vp8;video/x-vp9;video/x-av1;image/jpeg") }
        bin.add(open)
        let wanted = "\(kind.rawValue)/x-raw"
        open.onPadAdded { [weak bin] pad in
            guard let bin else { return }
            if pad.caps?.name == wanted, convert.peer == nil {
                try? pad.link(convert)
            } else if let sink = try? Element.make("fakesink") {
                // Anything else (the file's other kind, a second stream) is taken and dropped:
                // a stream left unlinked would stop the demuxer.
                sink.set("sync", false)
                sink.set("async", false)
                bin.add(sink)
                sink.syncStateWithParent()
                if let input = sink.staticPad("sink") { try? pad.link(input) }
            }
        }
        return bin
    }
}
