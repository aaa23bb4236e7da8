extension String {
    /// Whether the text holds a control character (Unicode's category Cc: C0, DEL, C1).
    /// The server refuses ids and names with one, a gateway candidates and mids: in a log or a
    /// terminal they can forge lines or rewrite the screen.
    public var hasControlCharacters: Bool {
        unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
