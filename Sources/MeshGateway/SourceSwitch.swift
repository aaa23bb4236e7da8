import Foundation
import GStreamer

/// `meshgate ctl source`: another source for a kind, switched in at the kind's
/// input-selector, ahead of the encoders. What follows the selector (the encoders, every
/// peer's branch) stays as it is: nothing is renegotiated. The source the gateway started
/// with keeps running meanwhile, so switching back to it is instant. Used from the loop only.
final class SourceSwitch {
    /// What a kind can be switched to: live sources, whose timestamps are the pipeline's
    /// running time as the started source's are.
    enum Target: Equatable {
        case original
        case test(hertz: Int?)
        case camera(String?)
        case microphone(String?)

        /// `original`, `test`, `test:HZ` (audio), `v4l2[:DEVICE]` (video), `alsa[:DEVICE]` (audio).
        init(_ text: String, kind: MediaKind) throws(GatewayError) {
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
            default:
                let allowed = kind == .video ? "original, test, v4l2[:DEVICE]" : "original, test[:HZ], alsa[:DEVICE]"
                throw GatewayError("\(kind.rawValue) can be switched to \(allowed), not '\(text)' (files and network sources only as the source a gateway starts with)")
            }
        }

        var shown: String {
            switch self {
            case .original: "the source it started with"
            case .test(nil): "the test pattern"
            case .test(let hertz?): "a \(hertz) Hz tone"
            case .camera(let device): "the camera \(device ?? "(default)")"
            case .microphone(let device): "the microphone \(device ?? "(default)")"
            }
        }
    }

    /// The bins' names start with this: a bus error from inside one is the switch's.
    static let binPrefix = "switch_"

    private let pipeline: Pipeline
    /// The source switched in, per kind, and its selector pad.
    private var current: [MediaKind: (bin: Bin, pad: Pad)] = [:]
    /// The selector pad of the source the gateway started with.
    private var originals: [MediaKind: Pad] = [:]
    private var serial = 0

    init(pipeline: Pipeline) {
        self.pipeline = pipeline
    }

    /// Whether a bus message's source (`/meshgate/switch_video_1/…`) is a switched-in source.
    static func owns(_ path: String) -> Bool {
        path.split(separator: "/").contains { $0.hasPrefix(binPrefix) }
    }

    /// Feeds `kind`'s encoders from `target`, once its first buffer arrived; throws, with
    /// everything as it was, when it does not start within 5 s.
    func switchTo(_ target: Target, kind: MediaKind) async throws(GatewayError) {
        guard let selector = pipeline.element(named: SendGraph.selector(kind)), let output = selector.staticPad("src") else {
            throw GatewayError("\(kind.rawValue) cannot be switched here: the gateway sends none, or passes its source's through as it comes")
        }
        // The first of its pads, made when the pipeline was built, is the started source's.
        if originals[kind] == nil { originals[kind] = selector.staticPad("sink_0") }
        guard let original = originals[kind] else { throw GatewayError("the \(kind.rawValue) selector has no source yet") }
        if case .camera(let device?) = target, !FileManager.default.fileExists(atPath: device) {
            throw GatewayError("no camera at \(device): list cameras with `meshgate devices`")
        }
        guard target != .original else {
            selector.set("active-pad", pad: original)
            await removeCurrent(kind, from: selector)
            return
        }
        guard let caps = output.currentCaps?.description else { throw GatewayError("no \(kind.rawValue) has flowed yet: switch once the call runs") }
        serial += 1
        let name = "\(Self.binPrefix)\(kind.rawValue)_\(serial)"
        let description = Self.description(of: target, kind: kind) + " ! \(kind == .video ? "videoconvert ! videoscale ! videorate" : "audioconvert ! audioresample") ! capsfilter caps=\"\(caps)\""
        let pipeline = pipeline
        let bin: Bin
        do {
            bin = try await GStreamer.blocking { () throws -> Bin in try Bin.parse(description, name: name) }
        } catch {
            throw GatewayError("cannot make \(target.shown): \(error)")
        }
        guard let source = bin.staticPad("src"), let pad = selector.requestPad("sink_%u") else { throw GatewayError("the \(kind.rawValue) selector takes no more sources") }
        let arrived = BufferCounter()
        source.countBuffers(into: arrived)
        await GStreamer.blocking { pipeline.add(bin) }
        do {
            try source.link(pad)
        } catch {
            await remove(bin, pad: pad, from: selector)
            throw GatewayError("cannot link \(target.shown): \(error)")
        }
        await GStreamer.blocking { bin.syncStateWithParent() }
        let deadline = ContinuousClock.now + .seconds(5)
        while arrived.value == 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        guard arrived.value > 0 else {
            await remove(bin, pad: pad, from: selector)
            throw GatewayError("\(target.shown) gave nothing within 5 s; \(kind.rawValue) goes on as before")
        }
        selector.set("active-pad", pad: pad)
        await removeCurrent(kind, from: selector)
        current[kind] = (bin, pad)
    }

    /// A switched-in source failed (a bus error from inside it): back to the original.
    func failed(inPath path: String) async -> MediaKind? {
        guard let kind = current.first(where: { path.contains("/\($0.value.bin.name)") })?.key,
              let selector = pipeline.element(named: SendGraph.selector(kind)), let original = originals[kind] else { return nil }
        selector.set("active-pad", pad: original)
        await removeCurrent(kind, from: selector)
        return kind
    }

    private func removeCurrent(_ kind: MediaKind, from selector: Element) async {
        guard let (bin, pad) = current.removeValue(forKey: kind) else { return }
        await remove(bin, pad: pad, from: selector)
    }

    private func remove(_ bin: Bin, pad: Pad, from selector: Element) async {
        let pipeline = pipeline
        await GStreamer.blocking {
            bin.setState(.null)
            selector.releaseRequestPad(pad)
            pipeline.remove(bin)
        }
    }

    private static func description(of target: Target, kind: MediaKind) -> String {
        switch target {
        case .original: ""
        case .test(nil): "videotestsrc is-live=true pattern=smpte"
        case .test(let hertz?): "audiotestsrc is-live=true wave=sine freq=\(hertz) volume=0.2"
        case .camera(let device): "\(SendGraph.camera(device)) ! decodebin"
        case .microphone(let device): "alsasrc" + (device.map { " device=\(SendGraph.quoted($0))" } ?? "")
        }
    }
}
