import CGStreamer
import Synchronization

/// What the pipeline's bus reports that the owner acts on. `source` is the posting
/// element's path from the pipeline down (`/meshgate/peer3/recording_file`): who an error
/// belongs to is told by which bin it is in.
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
    /// Builds a pipeline from a gst-launch description; a missing element is an error naming it.
    public static func parse(_ description: String) throws -> Pipeline {
        let element = try parsed { gst_parse_launch(description, &$0) }
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

    /// Hands errors, warnings, end-of-stream and segment-done to `handler`, on the posting
    /// thread, until the subscription returned is released; other messages are dropped.
    public func subscribeToBus(_ handler: @escaping @Sendable (BusMessage) -> Void = { _ in }) -> BusSubscription {
        let subscription = BusSubscription(pipeline: self)
        if let bus = mg_element_bus(pointer) {
            let firstError = subscription.first
            let box = CallbackBox<BusMessage> { message in
                if case .error(_, let text, _) = message { firstError.note(text) }
                handler(message)
            }
            gst_bus_set_sync_handler(bus, busHandler, box.retainedPointer, releaseBox)
            gst_object_unref(bus)
        }
        return subscription
    }
}

/// The pipeline's one bus handler; releasing it removes the handler and its closure.
public final class BusSubscription: Sendable {
    private let pipeline: Pipeline
    /// Shared with the handler, which must not hold the subscription: that would keep it alive.
    fileprivate let first = FirstError()

    fileprivate init(pipeline: Pipeline) {
        self.pipeline = pipeline
    }

    /// The text of the first error the bus reported (a state change that failed posted it
    /// before it returned).
    public var firstError: String? { first.text }

    deinit {
        guard let bus = mg_element_bus(pipeline.pointer) else { return }
        gst_bus_set_sync_handler(bus, nil, nil, nil)
        gst_object_unref(bus)
    }
}

/// The first error text noted, from any thread.
private final class FirstError: Sendable {
    private let first = Mutex<String?>(nil)

    var text: String? { first.withLock { $0 } }

    func note(_ text: String) {
        first.withLock { $0 = $0 ?? text }
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
    let source = mg_message_source(message).map(path(of:)) ?? "/"
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

/// The names from the top bin down to `object`, as `/meshgate/peer3/recording_file`
/// (gst_object_get_path_string puts each type name in front as well).
private func path(of object: UnsafeMutablePointer<GstObject>) -> String {
    var names: [String] = []
    var current: UnsafeMutablePointer<GstObject>? = mg_object_ref(object)
    while let node = current {
        names.append(String(cString: mg_object_name(node)))
        current = gst_object_get_parent(node)
        mg_object_unref(node)
    }
    return "/" + names.reversed().joined(separator: "/")
}
