import Foundation
import GStreamer
import Synchronization

/// Opens a file or network source once, before the pipeline is built, to learn what it
/// sends: its codecs, and for H.264 the profile, interlacing and B-frames that decide
/// passthrough. A source that does not open, or lacks a kind it was asked for, is a clear
/// error here rather than a silent call.
enum SourceProbe {
    /// Frames after the first keyframe that are looked at for B-frames.
    static let framesWatched = 12

    static func run(_ source: URISource, kinds: Set<MediaKind>, latency: Int, timeout: Duration = .seconds(10)) async throws(GatewayError) -> SourceFacts {
        let found = Found()
        let pipeline = Pipeline(name: "probe")
        let decoder: Element
        do {
            decoder = try source.makeElement(name: "probe_source", undecoded: SourceFacts.undecoded(video: .h264, audio: true) + ";video/x-vp8",
                                             latency: latency)
        } catch {
            throw GatewayError("cannot open \(source.shown): \(error)")
        }
        pipeline.add(decoder)
        // Weakly: the handler lives in the pipeline, which must be free to go.
        URISource.onStreams(of: decoder, { [weak pipeline] pad in if let pipeline { found.add(pad, to: pipeline) } }, done: { found.noMorePads() })
        let bus = pipeline.subscribeToBus()
        defer {
            _ = pipeline.setState(.null)
            withExtendedLifetime(bus) {}
        }
        _ = pipeline.setState(.playing)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let error = bus.firstError { throw GatewayError("cannot open \(source.shown): \(error)") }
            switch found.facts(for: kinds) {
            case .ready(let facts): return facts
            case .missing(let kind): throw GatewayError("\(source.shown) has no \(kind.rawValue): give another source for it, or none")
            case .waiting: break
            }
            guard ContinuousClock.now < deadline else {
                let missing = kinds.sorted { $0.rawValue < $1.rawValue }.map(\.rawValue).joined(separator: " or ")
                throw GatewayError("\(source.shown) sent no \(missing) within \(timeout.components.seconds) s: check that it plays (gst-play-1.0 \(source.uri))")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What the probe's streams showed so far, from streaming threads.
    private final class Found: Sendable {
        private struct Stream {
            let pad: Pad
            let watch: StreamWatch
        }

        private struct State {
            var streams: [MediaKind: Stream] = [:]
            var allPads = false
        }

        private let state = Mutex(State())

        enum Outcome {
            case ready(SourceFacts)
            case missing(MediaKind)
            case waiting
        }

        /// Watches a stream the source found, behind a parser for H.264 (its caps then name
        /// the profile and interlacing).
        func add(_ pad: Pad, to pipeline: Pipeline) {
            guard let format = pad.caps?.name, let kind = MediaKind(capsName: format),
                  state.withLock({ $0.streams[kind] == nil }) else { return }
            let description = (format == "video/x-h264" ? "h264parse ! " : "") + "fakesink name=end sync=false async=false"
            guard let branch = try? Bin.parse(description), let entry = branch.staticPad("sink"),
                  let end = branch.element(named: "end")?.staticPad("sink") else { return }
            let watch = StreamWatch()
            end.watch(into: watch)
            pipeline.add(branch)
            branch.syncStateWithParent()
            guard (try? pad.link(entry)) != nil else { return }
            state.withLock { $0.streams[kind] = Stream(pad: end, watch: watch) }
        }

        func noMorePads() {
            state.withLock { $0.allPads = true }
        }

        func facts(for kinds: Set<MediaKind>) -> Outcome {
            state.withLock { state in
                var facts = SourceFacts()
                for kind in kinds.sorted(by: { $0.rawValue < $1.rawValue }) {
                    guard let stream = state.streams[kind] else { return state.allPads ? .missing(kind) : .waiting }
                    guard let caps = stream.pad.currentCaps, let format = caps.name, stream.watch.buffers > 0 else { return .waiting }
                    switch kind {
                    case .audio:
                        facts.audio = format
                    case .video:
                        let encoded = format != "video/x-raw"
                        if encoded, !stream.watch.reordered, stream.watch.buffersSinceFirstKeyframe < SourceProbe.framesWatched { return .waiting }
                        let interlace = caps.string("interlace-mode")
                        facts.video = SourceFacts.Video(format: format, profile: caps.string("profile"),
                                                        interlaced: interlace != nil && interlace != "progressive",
                                                        reordered: stream.watch.reordered, width: caps.int("width"), height: caps.int("height"))
                    }
                }
                return .ready(facts)
            }
        }
    }
}

extension URISource {
    /// The element that opens this source: a uridecodebin decoding all but `undecoded`
    /// (caps), whose streams come as pads it adds; for a camera, a bin with the camera's
    /// stream on its one pad, `src`.
    func makeElement(name: String, undecoded: String, latency: Int) throws -> Element {
        switch kind {
        case .camera(let device, let caps):
            return try Bin.parse("\(SendGraph.camera(device)) ! capsfilter caps=\(SendGraph.quoted(caps))", name: name)
        case .file, .network:
            let element = try Element.make("uridecodebin", name: name)
            element.set("uri", uri)
            element.set("caps", undecoded)
            if kind == .network {
                element.setSourceLatency(milliseconds: latency)
                // It finishes its own state changes: one opened again in a playing pipeline
                // must reach playing without the pipeline waiting on it (or it on the pipeline).
                element.set("async-handling", true)
            }
            return element
        }
    }

    /// Calls `body` with each stream `element` (from ``makeElement(name:undecoded:latency:)``)
    /// gives: a camera's at once, a uridecodebin's as it finds them; then `done`.
    static func onStreams(of element: Element, _ body: @escaping @Sendable (Pad) -> Void, done: @escaping @Sendable () -> Void = {}) {
        if let pad = element.staticPad("src") {
            body(pad)
            done()
        } else {
            element.onPadAdded(body)
            element.onNoMorePads(done)
        }
    }

    /// How the source is named in messages: its URI without credentials.
    var shown: String { Redacted.url(uri) }
}
