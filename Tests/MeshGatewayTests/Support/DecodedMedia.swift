import Foundation
import GStreamer
import MeshTestSupport
import Synchronization

/// What a recording holds, found by decoding all of it with GStreamer, as a player would.
struct DecodedMedia {
    let videoFrames: Int
    let width: Int?
    let height: Int?
    let audioBuffers: Int

    static func decode(_ path: String) async throws -> DecodedMedia {
        let player = try Player("filesrc location=\"\(path)\" ! decodebin name=d")
        let (pipeline, bus, video, audio) = (player.pipeline, player.bus, player.video, player.audio)
        let ended = Atomic<Int>(0)
        for pad in [player.videoSink, player.audioSink].compactMap({ $0 }) { pad.onEOS { ended.add(1, ordering: .relaxed) } }
        pipeline.setState(.playing)
        // A file missing one kind never ends that branch; the deadline covers it.
        _ = try? await eventually("\(path) to be decoded", within: .seconds(15)) { () -> Bool? in
            ended.load(ordering: .relaxed) == 2 || bus.firstError != nil ? true : nil
        }
        let caps = player.videoSink?.caps
        pipeline.setState(.null)
        let error = bus.firstError
        withExtendedLifetime(bus) {}
        if let error { throw Timeout(description: "\(path) does not play: \(error)") }
        return DecodedMedia(videoFrames: video.value, width: caps?.int("width"), height: caps?.int("height"), audioBuffers: audio.value)
    }

    /// Plays a live stream (`rtmp://…`) until `frames` video frames and some audio are decoded.
    static func receive(_ uri: String, frames: Int = 30, within limit: Duration = .seconds(20)) async throws -> DecodedMedia {
        let player = try Player("uridecodebin uri=\"\(uri)\" name=d")
        let (pipeline, bus, video, audio) = (player.pipeline, player.bus, player.video, player.audio)
        pipeline.setState(.playing)
        defer { pipeline.setState(.null) }
        do {
            try await eventually("\(frames) frames and audio from \(uri)", within: limit) { () -> Bool? in
                if let error = bus.firstError { throw Timeout(description: "\(uri) does not play: \(error)") }
                return video.value >= frames && audio.value > 0 ? true : nil
            }
        } catch {
            throw Timeout(description: "\(error) (decoded \(video.value) video frames, \(audio.value) audio buffers)")
        }
        let caps = player.videoSink?.caps
        withExtendedLifetime(bus) {}
        return DecodedMedia(videoFrames: video.value, width: caps?.int("width"), height: caps?.int("height"), audioBuffers: audio.value)
    }

    /// `source` (ending in a decoding element named `d`) decoded into two counting sinks.
    private struct Player {
        let pipeline: Pipeline
        let bus: BusSubscription
        let video = BufferCounter(), audio = BufferCounter()
        let videoSink: Pad?, audioSink: Pad?

        init(_ source: String) throws {
            GStreamer.initialize()
            pipeline = try Pipeline.parse(source + " "
                + "d. ! video/x-raw ! videoconvert ! fakesink name=video sync=false async=false "
                + "d. ! audio/x-raw ! audioconvert ! fakesink name=audio sync=false async=false")
            bus = pipeline.subscribeToBus()
            videoSink = pipeline.element(named: "video")?.staticPad("sink")
            audioSink = pipeline.element(named: "audio")?.staticPad("sink")
            videoSink?.countBuffers(into: video)
            audioSink?.countBuffers(into: audio)
        }
    }
}
