/// Stops the run when an invariant does not hold. `precondition` would do, but an optimized
/// build drops its message, and the message is what says which invariant broke.
func expect(_ condition: Bool, _ message: @autoclosure () -> String = "an invariant broke", file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError(message(), file: file, line: line) }
}

/// The fuzzer's input, read front to back; past its end every read is empty.
struct FuzzBytes {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func next() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) -> UnsafeBufferPointer<UInt8> {
        let end = min(bytes.count, position + count)
        defer { position = end }
        return UnsafeBufferPointer(rebasing: bytes[position..<end])
    }
}
