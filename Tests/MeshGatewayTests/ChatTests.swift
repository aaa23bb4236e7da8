import Foundation
import MeshTestSupport
import Testing

/// The `chat` data channel of every connection: `join --chat` between stdin, stdout and the
/// browser client's chat box, whichever side offered.
@Suite(.serialized)
struct ChatTests {
    static func chatting(_ id: String, in call: Call) throws -> MeshgateProcess {
        try MeshgateProcess(["join", "--server", call.url + "/", "--id", id, "--video", "test", "--audio", "test", "--size", "320x240",
                             "--fps", "15", "--ice-address", "127.0.0.1", "--chat"], input: true)
    }

    /// The chat lines a gateway printed: peer, text.
    static func heard(by process: MeshgateProcess) -> [(peer: String, text: String)] {
        process.stdout.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], object["type"] == "chat",
                  let peer = object["peer"], let text = object["text"] else { return nil }
            return (peer, text)
        }
    }

    /// gw1 is there first and the page offers to it; gw2 comes last and offers to both. What
    /// the page says reaches both gateways; what gw2 reads on stdin reaches the page (shown
    /// as text, never as markup) and gw1. A flood and an oversized message from the page
    /// cost only what is over the limits.
    @Test func aPageAndGatewaysChatBothWays() async throws {
        try await Call.run { call in
            let gw1 = try Self.chatting("gw1", in: call)
            try await eventually("gw1 to register") { () throws -> Bool? in
                guard gw1.isRunning else { throw Timeout(description: "gw1 exited: \(gw1.stderr)") }
                return gw1.stderr.contains("registered") ? true : nil
            }
            let page = try call.open(.chromium, id: "page")
            try await page.waitUntil("media from gw1") { $0.receives(from: "gw1") }
            let gw2 = try Self.chatting("gw2", in: call)
            try await page.waitUntil("media from gw2") { $0.receives(from: "gw2") }

            let tools = try await page.devTools()
            try await eventually("the page's chat channels to open", within: .seconds(15)) { () async throws -> Bool? in
                let open = try await tools.evaluate("[...window.meshgate.peers.values()].filter((p) => p.chat?.readyState === 'open').length") as? Int
                return open == 2 ? true : nil
            }
            #expect(try await tools.evaluate("window.meshgate.say('hello gateways')") as? Int == 2)
            for gateway in [gw1, gw2] {
                try await eventually("the page's line on a gateway's stdout") {
                    Self.heard(by: gateway).contains { $0.peer == "page" && $0.text == "hello gateways" } ? true : nil
                }
            }

            let markup = "hello <b>page</b> & \"gw1\" ✓"
            try await eventually("gw2's chat with gw1 to open", within: .seconds(15)) { () -> Bool? in
                gw2.write(line: "ping")
                return Self.heard(by: gw1).contains { $0.peer == "gw2" && $0.text == "ping" } ? true : nil
            }
            gw2.write(line: markup)
            try await page.waitUntil("gw2's line in the chat box") { report in
                report.chat?.contains { $0.from == "gw2" && $0.text == markup } == true
            }
            #expect(try await tools.evaluate("document.getElementById('messages').lastElementChild.textContent") as? String == "gw2: " + markup)
            #expect(try await tools.evaluate("document.querySelectorAll('#messages b b').length") as? Int == 0, "a message became markup")
            try await eventually("gw2's line on gw1") { Self.heard(by: gw1).contains { $0.peer == "gw2" && $0.text == markup } ? true : nil }

            // A flood of 300 at once: the burst (50) and what the rate adds get through.
            _ = try await tools.evaluate("""
                (() => { const gw = window.meshgate.peers.get('gw1');
                  for (let i = 0; i < 300; i++) gw.chat.send('flood ' + i);
                  gw.chat.send('x'.repeat(20000)); return 0; })()
                """)
            try await eventually("gw1 to say it drops a flood") { gw1.stderr.contains("peer sends chat faster than 20 messages a second") ? true : nil }
            try await eventually("gw1 to say it drops an oversized message") { gw1.stderr.contains("dropped a chat message over 16 KiB") ? true : nil }
            let flood = Self.heard(by: gw1).filter { $0.text.hasPrefix("flood ") }.count
            #expect(flood >= 50 && flood < 120, "\(flood) of 300 printed")
            #expect(!Self.heard(by: gw1).contains { $0.text.count > 16384 })
            await tools.close()
            for gateway in [gw1, gw2] {
                gateway.signal(SIGTERM)
                #expect(try await gateway.exitCode() == 0, "\(gateway.stderr)")
            }
        }
    }
}
