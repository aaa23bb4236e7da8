@testable import MeshGateway
import Testing

/// The pure parts of `--compose`: where each tile goes, how names are shown, and what each
/// destination is encoded and muxed with.
struct CompositionTests {
    @Test func oneTileFillsThePicture() {
        #expect(GridLayout.cells(count: 1, width: 1280, height: 720) == [.init(x: 0, y: 0, width: 1280, height: 720)])
        #expect(GridLayout.cells(count: 0, width: 1280, height: 720).isEmpty)
    }

    @Test func tilesMakeASquareishGridWithTheLastRowCentred() {
        let two = GridLayout.cells(count: 2, width: 1280, height: 720)
        #expect(two == [.init(x: 0, y: 0, width: 640, height: 720), .init(x: 640, y: 0, width: 640, height: 720)])
        let three = GridLayout.cells(count: 3, width: 1280, height: 720)
        #expect(three.map(\.width) == [640, 640, 640] && three.map(\.height) == [360, 360, 360])
        #expect(three[2] == .init(x: 320, y: 360, width: 640, height: 360))
        let five = GridLayout.cells(count: 5, width: 1280, height: 720)
        #expect(Set(five.map(\.width)) == [426] && Set(five.map(\.height)) == [360])
        #expect(five[3].x == 214 && five[4].x == 640 && five[3].y == 360)
    }

    @Test func cellsAreEvenAndInsideThePicture() {
        for count in 1...16 {
            for cell in GridLayout.cells(count: count, width: 1000, height: 562) {
                #expect(cell.x % 2 == 0 && cell.y % 2 == 0 && cell.width % 2 == 0 && cell.height % 2 == 0)
                #expect(cell.x >= 0 && cell.y >= 0 && cell.x + cell.width <= 1000 && cell.y + cell.height <= 562)
            }
        }
    }

    @Test func namesAreShownAsTextNotMarkup() {
        #expect(TileLabel.markup("Ann & <b>Bob</b>") == "Ann &amp; &lt;b&gt;Bob&lt;/b&gt;")
        #expect(TileLabel.markup("two\nlines\u{7}") == "twolines")
        #expect(TileLabel.markup(String(repeating: "x", count: 100)) == String(repeating: "x", count: 40) + "…")
    }

    @Test func destinationsPickTheirContainerAndCodecs() {
        #expect(ComposeTarget("call.mkv") == .file(path: "call.mkv", container: .matroska))
        #expect(ComposeTarget("/rec/Call.MP4") == .file(path: "/rec/Call.MP4", container: .mp4))
        #expect(ComposeTarget("rtmp://live.example/app/key") == .rtmp(url: "rtmp://live.example/app/key"))
        for refused in ["call.avi", ".mkv", "rtmp://", "rtmp:///app/key", "http://example/x.mkv.html"] {
            #expect(ComposeTarget(refused) == nil, "\(refused)")
        }
        #expect(ComposeTarget("a.mkv")?.audioEncoder.hasPrefix("opusenc") == true)
        #expect(ComposeTarget("a.mp4")?.output.hasPrefix("mp4mux") == true)
        #expect(ComposeTarget("rtmp://h/app/key")?.output.contains("flvmux") == true)
    }

    @Test func aStreamKeyIsNotShown() {
        let shown = ComposeTarget("rtmp://user:pass@live.example/app/secret-key")?.shown ?? ""
        #expect(!shown.contains("secret-key") && !shown.contains("pass"))
        #expect(shown.contains("live.example/app/"))
    }
}
