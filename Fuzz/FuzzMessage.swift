import MeshProtocol

/// libFuzzer target `message`: any text a socket can send, through `Message.decode`.
///
/// Beyond not crashing: a frame that decodes encodes to text that decodes to the same
/// message (what the server sends is what it read), and a refusal carries a code and a
/// message that survive the trip as an error frame.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // A WebSocket text frame is UTF-8; invalid bytes are what a lenient reader would pass on.
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let message: Message
    do {
        message = try Message.decode(text)
    } catch {
        expect(!error.message.isEmpty, "a refusal without a message")
        let frame = Message(error: error)
        guard let echoed = try? Message.decode(frame.jsonText()) else {
            fatalError("the error frame for \(error) does not decode")
        }
        expect(echoed == frame, "the error frame for \(error) changed on the way: \(echoed)")
        return 0
    }
    guard let again = try? Message.decode(message.jsonText()) else {
        fatalError("\(message) encodes to text that does not decode: \(message.jsonText())")
    }
    expect(again == message, "re-encoding changed the message: \(message) became \(again)")
    return 0
}
