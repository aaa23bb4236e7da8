import Foundation
import GStreamer
@testable import MeshGateway
import MeshTestSupport
import Testing

/// The GStreamer handles and the recorder on their own, in a pipeline of their own.
struct GStreamerLayerTests {
    init() { GStreamer.initialize() }

    @Test func aBranchWithAMissingElementIsRefusedNamingIt() {
        #expect {
            _ = try Bin.parse("queue ! nosuchelement ! fakesink")
        } throws: { error in
            "\(error)".contains("nosuchelement")
        }
        #expect {
            _ = try Pipeline.parse("fakesrc ! nosuchelement ! fakesink")
        } throws: { error in
            "\(error)".contains("nosuchelement")
        }
    }

    @Test func aRecorderThatCannotBeBuiltLeavesNothingBehind() async throws {
        let bin = Bin(name: "peer1")
        let directory = try temporaryDirectory("recorder")
        // wavenc has no video pad: the recorder cannot take the video it is asked for.
        await #expect(throws: GatewayError.self) {
            _ = try await Recorder.make(directory: directory, peerID: "p", kinds: [.video], bin: bin, muxer: "wavenc")
        }
        #expect(bin.childCount == 0)
    }

    @Test func aRecordingWhoseStreamsEndedEarlyFinishesAtOnce() async throws {
        let pipeline = Pipeline(name: "recording-test")
        let bin = Bin(name: "peer1")
        pipeline.add(bin)
        #expect(pipeline.setState(.playing))
        let recorder = try await Recorder.make(directory: try temporaryDirectory("recorder"), peerID: "p", kinds: [.audio], bin: bin)
        // The end reaches the file before anyone waits for it, as when a peer's streams end
        // quickly: the wait must still see it, not run to its 5 s limit.
        recorder.endMissingStreams()
        try await Task.sleep(for: .milliseconds(500))
        let start = ContinuousClock.now
        await recorder.finish()
        let waited = ContinuousClock.now - start
        pipeline.setState(.null)
        #expect(waited < .seconds(2), "finish waited \(waited)")
        #expect(bin.childCount == 0)
    }
}
