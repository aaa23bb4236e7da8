import Foundation
import MeshProtocol
import Testing

@Suite struct MessageTests {
    /// What a browser of the original design sends: JSON.stringify of its description.
    let browserOffer = #"{"id":"alice","targetId":"bob","username":"Alice","type":"send_offer","sdp":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}"#

    @Test func decodesABrowserOffer() throws {
        let message = try Message.decode(browserOffer)
        #expect(message.type == .sendOffer)
        #expect(message.id == "alice")
        #expect(message.targetId == "bob")
        #expect(message.sdp == .offer("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"))
    }

    @Test func decodesCandidatesWithNullOrMissingFields() throws {
        let withNull = try Message.decode(#"{"type":"new_candidate","ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":null,"sdpMLineIndex":0,"usernameFragment":null}}"#)
        #expect(withNull.ice == IceCandidate(candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMLineIndex: 0))
        let missing = try Message.decode(#"{"type":"new_candidate","ice":{"candidate":"candidate:x","sdpMid":"0"}}"#)
        #expect(missing.ice?.sdpMid == "0")
        #expect(missing.ice?.sdpMLineIndex == nil)
    }

    @Test func keepsTheAnswerSpellingOfTheContract() throws {
        #expect(MessageType.sendAnswer.rawValue == "send_aswer")
        let text = Message(type: .sendAnswer, id: "b", targetId: "a", sdp: .answer("v=0")).jsonText()
        #expect(text.contains(#""type":"send_aswer""#))
    }

    @Test func omitsAbsentFieldsWhenEncoding() throws {
        let text = Message(type: .restConnectionList, list: ["a": User(id: "a", username: "A")]).jsonText()
        #expect(text == #"{"list":{"a":{"id":"a","username":"A"}},"type":"rest_connection_list"}"#)
        #expect(!text.contains("null"))
    }

    @Test func roundTripsEveryField() throws {
        let message = Message(
            type: .connectionList, id: "a", targetId: "b", username: "A",
            sdp: .answer("v=0"), ice: IceCandidate(candidate: "c", sdpMid: "0", sdpMLineIndex: 1, usernameFragment: "u"),
            newUserId: "a", list: ["a": User(id: "a")], message: "m", code: "c"
        )
        #expect(try Message.decode(message.jsonText()) == message)
    }

    @Test func ignoresUnknownFieldsAndKeepsUnknownTypes() throws {
        let message = try Message.decode(#"{"type":"chat","id":"a","text":"hi","extra":{"nested":[1,2]}}"#)
        #expect(message.type == MessageType(rawValue: "chat"))
        #expect(message.id == "a")
    }

    @Test func errorFramesCarryCodeAndMessage() throws {
        let text = Message(error: ProtocolError(.unknownTarget, "no user 'x' in this room")).jsonText()
        let object = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(object == ["type": "error", "code": "unknown_target", "message": "no user 'x' in this room"])
    }

    @Test(arguments: [
        ("not json", ProtocolError.Code.invalidJSON, "not valid JSON"),
        ("[1,2]", .invalidJSON, "JSON object"),
        (#""text""#, .invalidJSON, "JSON object"),
        (#"{"type":7}"#, .invalidField, "field 'type' must be a string"),
        (#"{"type":"new_user","id":42}"#, .invalidField, "field 'id' must be a string"),
        (#"{"type":"send_offer","sdp":"v=0"}"#, .invalidField, "field 'sdp' must be an object"),
        (#"{"type":"send_offer","sdp":{"type":"offer"}}"#, .invalidField, "field 'sdp' is missing 'sdp'"),
        (#"{"type":"new_candidate","ice":{"candidate":"c","sdpMLineIndex":"0"}}"#, .invalidField, "field 'ice.sdpMLineIndex' must be a number"),
        (#"{"type":"connection_list","list":{"a":{"id":1}}}"#, .invalidField, "field 'list.a.id' must be a string"),
    ])
    func refusesMalformedFramesNamingTheProblem(text: String, code: ProtocolError.Code, hint: String) {
        #expect {
            _ = try Message.decode(text)
        } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == code && error.message.contains(hint)
        }
    }
}
