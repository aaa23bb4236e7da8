import Foundation
import Logging
import Testing
@testable import MeshLogging

/// Client text in log values never reaches the log raw, in either format.
@Suite struct LogLineTests {
    let hostile = "a\u{1B}[2J\r\n2026 info join id=admin\u{0}\u{7F}\u{9B}\u{202E}\u{2028}"
    let time = Date(timeIntervalSince1970: 0)

    /// What must not appear raw, written out here rather than taken from the code under test.
    static func raw(_ line: String) -> [Unicode.Scalar] {
        line.unicodeScalars.filter {
            $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || [0x2028, 0x2029, 0x202E].contains($0.value)
        }
    }

    @Test func textLinesEscapeControlCharacters() {
        let line = TextLogHandler(label: "t").format(level: .info, message: "join", metadata: ["id": "\(hostile)"], time: time)
        #expect(Self.raw(line).isEmpty)
        #expect(line.hasSuffix(#"id="a\u{1B}[2J\r\n2026 info join id=admin\u{0}\u{7F}\u{9B}\u{202E}\u{2028}""#))
    }

    @Test func textLinesQuoteBackslashesSoEscapesCannotBeForged() {
        let line = TextLogHandler(label: "t").format(level: .info, message: "m", metadata: ["id": #"x\u{1B}"#], time: time)
        #expect(line.hasSuffix(#"id="x\\u{1B}""#))
    }

    @Test func jsonLinesEscapeWhatJSONLeavesRawAndStillDecodeToTheValue() throws {
        let line = JSONLogHandler(label: "t").format(level: .info, message: "join", metadata: ["id": "\(hostile)"], time: time)
        #expect(Self.raw(line).isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["id"] as? String == hostile)
    }
}
