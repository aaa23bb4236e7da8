import Foundation
import MeshGateway
import MeshTestSupport
import Testing

/// Several video codecs in one room: each peer gets the first codec of the gateway's list it
/// takes, from one shared encoder per codec in use.
@Suite(.serialized)
struct CodecTests {
    /// Chromium takes H.264; Firefox without OpenH264 takes only VP8. With the gateway in the
    /// room first the pages offer and the gateway answers; joining last, it offers H.264 to
    /// both, and offers VP8 again to the one that refused it.
    @Test(arguments: [true, false])
    func aChromiumAndAFirefoxWithoutH264BothGetVideo(gatewayFirst: Bool) async throws {
        try await Call.run { call in
            var gateway: TestGateway?
            if gatewayFirst { gateway = try await call.join("gw", record: false) { $0.videoCodecs = [.h264, .vp8] } }
            let chromium = try call.open(.chromium, id: "chromium")
            let firefox = try call.open(.firefox, id: "firefox", h264: false)
            if !gatewayFirst {
                try await chromium.waitUntil("registered") { $0.registered }
                try await firefox.waitUntil("registered") { $0.registered }
                gateway = try await call.join("gw", record: false) { $0.videoCodecs = [.h264, .vp8] }
            }
            let gw = try #require(gateway)
            let seenByChromium = try await chromium.waitUntil("video from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            let seenByFirefox = try await firefox.waitUntil("video from gw") { $0.receives(from: "gw", width: 320, height: 240) }
            #expect(seenByChromium.peers["gw"]?.received["video"]?.codec?.uppercased() == "VIDEO/H264")
            #expect(seenByFirefox.peers["gw"]?.received["video"]?.codec?.uppercased() == "VIDEO/VP8")
            let both = try await gw.snapshot()
            #expect(both.videoEncoders == ["h264", "vp8"])
            #expect(both.peers.map(\.id) == ["chromium", "firefox"])

            try await firefox.close()
            try await eventually("the VP8 encoder to stop once Firefox left") { () async throws -> Bool? in
                try await gw.snapshot().videoEncoders == ["h264"] ? true : nil
            }
            // Chromium's picture goes on.
            let frames = try await chromium.waitUntil("video from gw") { $0.receives(from: "gw") }.framesDecoded(from: "gw")
            try await chromium.waitUntil("more video from gw") { $0.framesDecoded(from: "gw") > frames + 10 }
        }
    }
}
