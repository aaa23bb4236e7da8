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
        GStreamer.initialize()
        let pipeline = try Pipeline.parse(
            "filesrc location=\"\(path)\" ! decodebin name=d "
                + "d. ! video/x-raw ! videoconvert ! fakesink name=video sync=false async=false "
                + "d. ! audio/x-raw ! audioconvert ! fakesink name=audio sync=false async=false")
        let bus = pipeline.subscribeToBus()
        let video = BufferCounter(), audio = BufferCounter()
        let ended = Atomic<Int>(0)
        var videoSink: Pad?
        for (name, counter) in [("video", video), ("audio", audio)] {
            guard let pad = pipeline.element(named: name)?.staticPad("sink") else { continue }
            pad.countBuffers(into: counter)
            pad.onEOS { ended.add(1, ordering: .relaxed) }
            if name == "video" { videoSink = pad }
        }
        pipeline.setState(.playing)
        // A file missing one kind never ends that branch; the deadline covers it.
        _ = try? await eventually("\(path) to be decoded", within: .seconds(15)) { () -> Bool? in
            ended.load(ordering: .relaxed) == 2 || bus.firstError != nil ? true : nil
        }
        let caps = videoSink?.caps
        pipeline.setState(.null)
        let error = bus.firstError
        withExtendedLifetime(bus) {}
        if let error { throw Timeout(description: "\(path) does not play: \(error)") }
        return DecodedMedia(videoFrames: video.value, width: caps?.int("width"), height: caps?.int("height"), audioBuffers: audio.value)
    }

    /// Plays a live stream (`rtmp://…`) until `frames` video frames and some audio are decoded.
    static func receive(_ uri: String, frames: Int = 30, within limit: Duration = .seconds(20)) async throws -> DecodedMedia {
        GStreamer.initialize()
        let pipeline = try Pipeline.parse(
            "uridecodebin uri=\"\(uri)\" name=d "
                + "d. ! video/x-raw ! videoconvert ! fakesink name=video sync=false async=false "
                + "d. ! audio/x-raw ! audioconvert ! fakesink name=audio sync=false async=false")
        let bus = pipeline.subscribeToBus()
        let video = BufferCounter(), audio = BufferCounter()
        for (name, counter) in [("video", video), ("audio", audio)] {
            pipeline.element(named: name)?.staticPad("sink")?.countBuffers(into: counter)
        }
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
        let caps = pipeline.element(named: "video")?.staticPad("sink")?.caps
        withExtendedLifetime(bus) {}
        return DecodedMedia(videoFrames: video.value, width: caps?.int("width"), height: caps?.int("height"), audioBuffers: audio.value)
    }
}
