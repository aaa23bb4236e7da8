import Foundation
import GStreamer
import MeshProtocol

/// One Matroska file of what one remote participant sent during one connection: its
/// streams as they came (no re-encoding), finalised by `finish()`. Its elements live in the
/// peer's bin, named `recording_…`, so that a bus error says whose recording failed.
final class Recorder {
    /// The prefix of its elements' names inside the peer's bin.
    static let elementPrefix = "recording_"

    let path: String
    private let bin: Bin
    private let muxer: Element
    private let sink: Element
    private var pads: [MediaKind: Pad] = [:]
    private var ended: Set<MediaKind> = []
    /// Says when end-of-stream reached the file: watched from the start, so that an end that
    /// comes quickly is never missed.
    private let written = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// Adds a recording's elements to `bin`, or nothing when any step fails. `muxer` is the
    /// factory; only a test gives another.
    static func make(directory: String, peerID: PeerID, kinds: Set<MediaKind>, bin: Bin, muxer factory: String = "matroskamux") async throws -> Recorder {
        // Making elements can load their plugins: not on the loop's thread.
        let (muxer, sink) = try await GStreamer.blocking { () throws -> (Element, Element) in
            (try Element.make(factory, name: elementPrefix + "mux"), try Element.make("filesink", name: elementPrefix + "file"))
        }
        return try Recorder(directory: directory, peerID: peerID, kinds: kinds, bin: bin, muxer: muxer, sink: sink)
    }

    private init(directory: String, peerID: PeerID, kinds: Set<MediaKind>, bin: Bin, muxer: Element, sink: Element) throws {
        path = Self.newPath(directory: directory, peerID: peerID)
        self.bin = bin
        self.muxer = muxer
        self.sink = sink
        // Streams start at zero however long the gateway ran before this peer came.
        muxer.set("offset-to-zero", true)
        sink.set("location", path)
        sink.set("async", false)
        bin.add(muxer)
        bin.add(sink)
        do {
            try muxer.link(sink)
            for kind in kinds.sorted(by: { $0.rawValue > $1.rawValue }) {
                guard let pad = muxer.requestPad(kind == .video ? "video_%u" : "audio_%u") else {
                    throw GatewayError("the recorder's muxer takes no \(kind.rawValue)")
                }
                pads[kind] = pad
            }
        } catch {
            // Never started: nothing to stop.
            bin.remove(muxer)
            bin.remove(sink)
            throw error
        }
        let written = written.continuation
        sink.staticPad("sink")?.onEOS { written.yield() }
        sink.syncStateWithParent()
        muxer.syncStateWithParent()
    }

    /// Links a depayloaded stream to the muxer pad of its kind.
    func attach(_ source: Pad, kind: MediaKind) throws {
        guard let pad = pads[kind], pad.peer == nil, !ended.contains(kind) else {
            throw GatewayError("the recording of \(path) takes no more \(kind.rawValue)")
        }
        try source.link(pad)
        // A write that fails (a full disk) must cost this recording, not the peer's media.
        source.containDownstreamErrors()
    }

    /// Stops after a write failed: the streams are cut off here and the elements removed;
    /// the file keeps what was written (Matroska plays up to where it stops).
    func abandon() async {
        for pad in pads.values {
            if let source = pad.peer { source.unlink(pad) }
        }
        await removeElements()
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
        endMissingStreams()
        await withTaskGroup(of: Void.self) { [written] group in
            group.addTask { for await _ in written.stream { return } }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        written.continuation.finish()
        await removeElements()
    }

    private func removeElements() async {
        let (bin, elements) = (bin, [muxer, sink])
        await GStreamer.blocking {
            for element in elements {
                element.setState(.null)
                bin.remove(element)
            }
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
