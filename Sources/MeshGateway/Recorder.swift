import Foundation
import GStreamer
import MeshProtocol

/// One Matroska file of what one remote participant sent during one connection:
/// its streams as they came (no re-encoding), finalised by `finish()`.
final class Recorder {
    let path: String
    private let pipeline: Pipeline
    private let muxer: Element
    private let sink: Element
    private var pads: [MediaKind: Pad] = [:]
    private var ended: Set<MediaKind> = []

    /// The names of its elements, which a bus message names as its source: unique per
    /// recording, from `name`.
    let elementNames: Set<String>

    init(directory: String, peerID: PeerID, name: String, kinds: Set<MediaKind>, pipeline: Pipeline) throws(GatewayError) {
        path = Self.newPath(directory: directory, peerID: peerID)
        self.pipeline = pipeline
        elementNames = ["\(name)_mux", "\(name)_file"]
        do {
            muxer = try Element.make("matroskamux", name: "\(name)_mux")
            sink = try Element.make("filesink", name: "\(name)_file")
        } catch {
            throw GatewayError(error.message)
        }
        // Streams start at zero however long the gateway ran before this peer came.
        muxer.set("offset-to-zero", true)
        sink.set("location", path)
        sink.set("async", false)
        pipeline.add(muxer)
        pipeline.add(sink)
        do {
            try muxer.link(sink)
        } catch {
            throw GatewayError(error.message)
        }
        for kind in kinds.sorted(by: { $0.rawValue > $1.rawValue }) {
            pads[kind] = muxer.requestPad(kind == .video ? "video_%u" : "audio_%u")
        }
        sink.syncStateWithParent()
        muxer.syncStateWithParent()
    }

    /// Links a depayloaded stream to the muxer pad of its kind.
    func attach(_ source: Pad, kind: MediaKind) throws(GatewayError) {
        guard let pad = pads[kind], pad.peer == nil, !ended.contains(kind) else {
            throw GatewayError("the recording of \(path) takes no more \(kind.rawValue)")
        }
        do {
            try source.link(pad)
        } catch {
            throw GatewayError(error.message)
        }
        // A write that fails (a full disk) must cost this recording, not the peer's media.
        source.containDownstreamErrors()
    }

    /// Stops after a write failed: the streams are cut off here and the elements removed;
    /// the file keeps what was written (Matroska plays up to where it stops).
    func abandon() {
        for pad in pads.values {
            if let source = pad.peer { source.unlink(pad) }
        }
        removeElements()
    }

    /// Ends the streams that have not come (a peer may announce audio and send none): the
    /// muxer waits for every stream before it writes, so the others would stall.
    func endMissingStreams() {
        for (kind, pad) in pads where pad.peer == nil && !ended.contains(kind) {
            ended.insert(kind)
            pad.sendEOS()
        }
    }

    /// Waits (at most 5 s) until the file is written, then removes the elements. The caller
    /// has sent end-of-stream into the linked streams; kinds that never came are ended here.
    func finish() async {
        let written = AsyncStream<Void>.makeStream()
        sink.staticPad("sink")?.onEOS { written.continuation.yield() }
        endMissingStreams()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in written.stream { return } }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        written.continuation.finish()
        removeElements()
    }

    private func removeElements() {
        for element in [muxer, sink] {
            element.setState(.null)
            pipeline.remove(element)
        }
    }

    /// `DIR/ID-20261124T181500.mkv`, the id made safe as a file name, never overwriting.
    static func newPath(directory: String, peerID: PeerID) -> String {
        let safe = String(peerID.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(64))
        var formatter = Date.VerbatimFormatStyle(
            format: "\(year: .defaultDigits)\(month: .twoDigits)\(day: .twoDigits)T\(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased))\(minute: .twoDigits)\(second: .twoDigits)",
            timeZone: .current, calendar: Calendar(identifier: .gregorian))
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let stem = "\(directory)/\(safe.isEmpty ? "peer" : safe)-\(Date().formatted(formatter))"
        var path = stem + ".mkv"
        var number = 2
        while FileManager.default.fileExists(atPath: path) {
            path = "\(stem)-\(number).mkv"
            number += 1
        }
        return path
    }
}
