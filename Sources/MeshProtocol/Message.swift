import Foundation

/// One frame of the mesh signalling protocol (PROTOCOL.md).
///
/// Every field is optional on the wire; `nil` fields are omitted when encoded.
/// Unknown fields are ignored when decoded; a known field of the wrong JSON
/// type is a decoding error (see ``Message/decode(_:)``).
public struct Message: Codable, Hashable, Sendable {
    public var type: MessageType?
    public var id: PeerID?
    public var targetId: PeerID?
    public var username: String?
    public var sdp: SessionDescription?
    public var ice: IceCandidate?
    public var newUserId: PeerID?
    public var list: UserList?
    /// Only on `error` frames: what was wrong, for a person.
    public var message: String?
    /// Only on `error` frames: a stable code for programs (see ``ProtocolError/Code``).
    public var code: String?

    public init(
        type: MessageType? = nil,
        id: PeerID? = nil,
        targetId: PeerID? = nil,
        username: String? = nil,
        sdp: SessionDescription? = nil,
        ice: IceCandidate? = nil,
        newUserId: PeerID? = nil,
        list: UserList? = nil,
        message: String? = nil,
        code: String? = nil
    ) {
        self.type = type
        self.id = id
        self.targetId = targetId
        self.username = username
        self.sdp = sdp
        self.ice = ice
        self.newUserId = newUserId
        self.list = list
        self.message = message
        self.code = code
    }
}

extension Message {
    /// The error frame sent for a refused frame.
    public init(error: ProtocolError) {
        self.init(type: .error, message: error.message, code: error.code.rawValue)
    }

    /// Decodes one text frame, turning every failure into a ``ProtocolError``
    /// that names the offending field.
    public static func decode(_ text: String) throws(ProtocolError) -> Message {
        let data = Data(text.utf8)
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw ProtocolError(.invalidJSON, "frame is not valid JSON")
        }
        guard object is [String: Any] else {
            throw ProtocolError(.invalidJSON, "frame must be a JSON object")
        }
        do {
            return try JSONDecoder().decode(Message.self, from: data)
        } catch let error as DecodingError {
            throw ProtocolError(.invalidField, Self.describe(error))
        } catch {
            throw ProtocolError(.invalidJSON, "frame could not be decoded: \(error)")
        }
    }

    /// Encodes to the compact JSON text of one frame.
    public func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, ints and dictionaries cannot fail.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "frame" : "field '\(keys.joined(separator: "."))'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be \(jsonName(of: type))"
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be \(jsonName(of: type)), not null"
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "\(parent == "frame" ? "frame" : parent) is missing '\(key.stringValue)'"
        case .dataCorrupted(let context):
            return "\(path(context)) is malformed"
        @unknown default:
            return "frame is malformed"
        }
    }

    private static func jsonName(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "an object"
        }
    }
}
