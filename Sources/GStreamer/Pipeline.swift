import CGStreamer

/// What the pipeline's bus reports that the owner acts on.
public enum BusMessage: Sendable {
    case error(source: String, message: String, debug: String?)
    case warning(source: String, message: String)
    case endOfStream
    /// Every segment seek's segment has played to its end (see `seekToStartAsSegment`).
    case segmentDone
}

/// The one pipeline of a process. Bus messages go to a handler on the posting
/// thread; the handler should only hand them on.
public final class Pipeline: Bin, @unchecked Sendable {
    /// Builds a pipeline from a gst-launch description.
    public static func parse(_ description: String) throws(GStreamerError) -> Pipeline {
        var error: UnsafeMutablePointer<GError>?
        guard let element = gst_parse_launch(description, &error) else {
            throw GStreamerError(consume(error))
        }
        if let error {
            // A partial pipeline (missing element): refuse it rather than run half of it.
            let message = consume(error)
            gst_object_unref(element)
            throw GStreamerError(message)
        }
        guard isPipeline(element) else {
            // A one-element description gives that element, not a pipeline.
            let pipeline = Pipeline(sinking: gst_pipeline_new(nil))
            pipeline.add(Element(sinking: element))
            return pipeline
        }
        return Pipeline(sinking: element)
    }

    public convenience init(name: String) {
        self.init(sinking: gst_pipeline_new(name))
    }

    /// Keeps time by the system's monotonic clock rather than one a source offers (a sound
    /// card's), whose rate can be off: sources then follow the system's time instead.
    public func useSystemClock() {
        guard let clock = gst_system_clock_obtain() else { return }
        gst_pipeline_use_clock(UnsafeMutablePointer<GstPipeline>(OpaquePointer(pointer)), clock)
        gst_object_unref(clock)
    }

    /// How long the pipeline has played, by its clock; nil before it plays.
    public var runningTime: UInt? {
        let time = gst_element_get_current_running_time(pointer)
        return time == UInt.max ? nil : time
    }

    /// Installs `handler` for errors, warnings, end-of-stream and segment-done; other messages are dropped.
    public func onBusMessage(_ handler: @escaping @Sendable (BusMessage) -> Void) {
        guard let bus = mg_element_bus(pointer) else { return }
        defer { gst_object_unref(bus) }
        let box = CallbackBox<BusMessage>(handler)
        gst_bus_set_sync_handler(bus, busHandler, box.retainedPointer, releaseBox)
    }

    /// Stops the bus handler so that its closure is released.
    public func removeBusHandler() {
        guard let bus = mg_element_bus(pointer) else { return }
        defer { gst_object_unref(bus) }
        gst_bus_set_sync_handler(bus, nil, nil, nil)
    }
}

private func isPipeline(_ element: UnsafeMutablePointer<GstElement>) -> Bool {
    let instance = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GTypeInstance.self)
    return g_type_check_instance_is_a(instance, gst_pipeline_get_type()) != 0
}

private let busHandler: @convention(c) (UnsafeMutablePointer<GstBus>?, UnsafeMutablePointer<GstMessage>?, gpointer?) -> GstBusSyncReply = { _, message, data in
    guard let message else { return GST_BUS_DROP }
    guard let box = CallbackBox<BusMessage>.from(data) else {
        gst_message_unref(message)
        return GST_BUS_DROP
    }
    let source = mg_message_source(message).map { String(cString: mg_object_name($0)) } ?? "pipeline"
    switch mg_message_type(message) {
    case GST_MESSAGE_ERROR:
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        gst_message_parse_error(message, &error, &debug)
        box.body(.error(source: source, message: consume(error), debug: consume(debug)))
    case GST_MESSAGE_WARNING:
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        gst_message_parse_warning(message, &error, &debug)
        _ = consume(debug)
        box.body(.warning(source: source, message: consume(error)))
    case GST_MESSAGE_EOS:
        box.body(.endOfStream)
    case GST_MESSAGE_SEGMENT_DONE:
        box.body(.segmentDone)
    default:
        break
    }
    // No one pops the bus: drop every message here. A sync handler that drops a message
    // must unref it; one left alive keeps its source element (a removed webrtcbin with
    // its threads, say) alive with it.
    gst_message_unref(message)
    return GST_BUS_DROP
}
