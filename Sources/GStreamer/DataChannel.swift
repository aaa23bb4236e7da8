import CGStreamer

/// What a data channel reports, on GStreamer's threads: hand it on, do not act there.
public enum DataChannelEvent: Sendable {
    case opened
    case message(String)
    case closed
    case failed(String)
}

/// One WebRTC data channel of a webrtcbin (text messages only). Owns its reference; its
/// signal handlers go with it.
public final class DataChannel: @unchecked Sendable {
    private let pointer: OpaquePointer
    private var handlers: [gulong] = []
    /// The same object, as GObject functions take it.
    private var object: gpointer { UnsafeMutableRawPointer(pointer) }

    /// Takes over a reference the caller owns.
    init(adopting pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a reference of its own to a channel a signal lends.
    convenience init(borrowing pointer: OpaquePointer) {
        mg_gobject_ref(UnsafeMutableRawPointer(pointer))
        self.init(adopting: pointer)
    }

    deinit {
        stopObserving()
        mg_gobject_unref(object)
    }

    public var label: String { consume(mg_data_channel_label(pointer)) ?? "" }

    /// Connects the channel's signals to `handler`. Call once.
    public func observe(_ handler: @escaping @Sendable (DataChannelEvent) -> Void) {
        let opened = CallbackBox<Void>({ _ in handler(.opened) })
        handlers.append(mg_connect_channel(object, "on-open", onChannelSignal, opened.retainedPointer, releaseClosureBox))
        let closed = CallbackBox<Void>({ _ in handler(.closed) })
        handlers.append(mg_connect_channel(object, "on-close", onChannelSignal, closed.retainedPointer, releaseClosureBox))
        let message = CallbackBox<String>({ handler(.message($0)) })
        handlers.append(mg_connect_channel_text(object, onChannelText, message.retainedPointer, releaseClosureBox))
        let failed = CallbackBox<String>({ handler(.failed($0)) })
        handlers.append(mg_connect_channel_error(object, onChannelError, failed.retainedPointer, releaseClosureBox))
    }

    public func stopObserving() {
        for handler in handlers { mg_disconnect(object, handler) }
        handlers.removeAll()
    }

    /// Sends one text message; throws with webrtcbin's reason when it cannot (not open).
    public func send(_ text: String) throws {
        if let reason = consume(mg_data_channel_send(pointer, text)) { throw GStreamerError(reason) }
    }

    public func close() {
        gst_webrtc_data_channel_close(pointer)
    }
}

private let onChannelSignal: @convention(c) (OpaquePointer?, gpointer?) -> Void = { _, data in
    CallbackBox<Void>.from(data)?.body(())
}

private let onChannelText: @convention(c) (OpaquePointer?, UnsafeMutablePointer<gchar>?, gpointer?) -> Void = { _, text, data in
    guard let text else { return }
    CallbackBox<String>.from(data)?.body(String(cString: text))
}

private let onChannelError: @convention(c) (OpaquePointer?, UnsafeMutablePointer<GError>?, gpointer?) -> Void = { _, error, data in
    CallbackBox<String>.from(data)?.body(error.map { String(cString: $0.pointee.message) } ?? "data channel error")
}
