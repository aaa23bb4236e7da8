import CGStreamer

/// A GStreamer element this handle holds one reference to, dropped in deinit.
public class Element: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<GstElement>

    /// Adopts a reference the caller owns (transfer full).
    init(adopting pointer: UnsafeMutablePointer<GstElement>) {
        self.pointer = pointer
    }

    /// Takes a new, possibly floating, element (factory_make, parse_*).
    convenience init(sinking pointer: UnsafeMutablePointer<GstElement>) {
        gst_object_ref_sink(pointer)
        self.init(adopting: pointer)
    }

    deinit {
        gst_object_unref(pointer)
    }

    /// A new element from a factory; fails with the plugin to install when it is missing.
    public static func make(_ factory: String, name: String? = nil) throws -> Element {
        guard let element = gst_element_factory_make(factory, name) else {
            throw GStreamerError("GStreamer element '\(factory)' is missing: install its plugin package (scripts/setup installs them all)")
        }
        return Element(sinking: element)
    }

    public var name: String {
        consume(gst_object_get_name(object)) ?? ""
    }

    var object: UnsafeMutablePointer<GstObject> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstObject.self)
    }

    var gobject: UnsafeMutablePointer<GObject> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GObject.self)
    }

    /// Sets a property from its string form, as gst-launch would (enums by nick).
    public func set(_ property: String, _ value: String) {
        gst_util_set_object_arg(gobject, property, value)
    }

    public func set(_ property: String, _ value: Int) { set(property, String(value)) }

    /// Sets a string property to exactly `text` (a label, a name from the network).
    public func set(_ property: String, text: String) {
        mg_object_set_string(gobject, property, text)
    }

    /// Sets a property that holds a pad (an input-selector's `active-pad`).
    public func set(_ property: String, pad: Pad) {
        mg_object_set_object(gobject, property, UnsafeMutableRawPointer(pad.pointer))
    }

    /// An int property's value.
    public func int(_ property: String) -> Int { Int(mg_object_get_int(gobject, property)) }
    public func set(_ property: String, _ value: Bool) { set(property, value ? "true" : "false") }

    public func staticPad(_ name: String) -> Pad? {
        gst_element_get_static_pad(pointer, name).map(Pad.init(adopting:))
    }

    /// Requests a pad from a template such as "src_%u" or "sink_%u", optionally with caps.
    public func requestPad(_ template: String, caps: Caps? = nil) -> Pad? {
        guard let templ = gst_element_class_get_pad_template(elementClass, template) else { return nil }
        return gst_element_request_pad(pointer, templ, nil, caps?.pointer).map(Pad.init(adopting:))
    }

    public func releaseRequestPad(_ pad: Pad) {
        gst_element_release_request_pad(pointer, pad.pointer)
    }

    private var elementClass: UnsafeMutablePointer<GstElementClass> {
        let instance = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GTypeInstance.self)
        return UnsafeMutableRawPointer(instance.pointee.g_class).assumingMemoryBound(to: GstElementClass.self)
    }

    public func link(_ next: Element) throws {
        guard gst_element_link(pointer, next.pointer) != 0 else {
            throw GStreamerError("cannot link \(name) to \(next.name)")
        }
    }

    /// Changes state; false when the element refuses (a missing device, say).
    @discardableResult
    public func setState(_ state: ElementState) -> Bool {
        gst_element_set_state(pointer, state.raw) != GST_STATE_CHANGE_FAILURE
    }

    /// Waits until a state change that goes on in the background (a preroll) is done;
    /// false when it failed or took longer than `timeout`.
    public func waitForState(timeout: Duration) -> Bool {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = GstClockTime(max(0, seconds)) * 1_000_000_000 + GstClockTime(max(0, attoseconds) / 1_000_000_000)
        return gst_element_get_state(pointer, nil, nil, nanoseconds) == GST_STATE_CHANGE_SUCCESS
    }

    public func syncStateWithParent() {
        gst_element_sync_state_with_parent(pointer)
    }

    /// Plays a decodebin's file again from its start as a segment, so that playback goes
    /// on without end-of-stream and with running time that keeps counting. `flush` for
    /// the first seek (it discards what is queued), not for the seeks at each segment-done.
    @discardableResult
    public func seekToStartAsSegment(flush: Bool) -> Bool {
        mg_element_seek_start(pointer, flush ? 1 : 0, 1) != 0
    }

    /// Seeks back to the start, discarding what is queued.
    @discardableResult
    public func seekToStart() -> Bool {
        mg_element_seek_start(pointer, 1, 0) != 0
    }

    /// Keeps the element in its current state when its parent changes state.
    public func lockState(_ locked: Bool) {
        gst_element_set_locked_state(pointer, locked ? 1 : 0)
    }
}

public enum ElementState: Sendable {
    case null, ready, paused, playing

    var raw: GstState {
        switch self {
        case .null: GST_STATE_NULL
        case .ready: GST_STATE_READY
        case .paused: GST_STATE_PAUSED
        case .playing: GST_STATE_PLAYING
        }
    }
}

/// An element that holds others: a bin or the pipeline.
public class Bin: Element, @unchecked Sendable {
    /// A new, empty bin.
    public convenience init(name: String) {
        self.init(sinking: gst_bin_new(name))
    }

    /// Builds a bin from a gst-launch description; unlinked pads become ghost pads unless
    /// `ghostingUnlinkedPads` is false (a textoverlay whose text pad is ghosted waits for
    /// text that never comes). A missing element is an error naming it, never a bin with a
    /// piece left out.
    public static func parse(_ description: String, name: String? = nil, ghostingUnlinkedPads: Bool = true) throws -> Bin {
        let element = try parsed { error in
            gst_parse_bin_from_description(description, ghostingUnlinkedPads ? 1 : 0, &error)
                .map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: GstElement.self) }
        }
        let result = Bin(sinking: element)
        if let name { gst_object_set_name(result.object, name) }
        return result
    }

    /// Runs a gst-launch parse and refuses a partial result: gst_parse gives what it could
    /// build along with the error when an element is missing.
    static func parsed(_ parse: (inout UnsafeMutablePointer<GError>?) -> UnsafeMutablePointer<GstElement>?) throws -> UnsafeMutablePointer<GstElement> {
        var error: UnsafeMutablePointer<GError>?
        let element = parse(&error)
        if let error {
            if let element { gst_object_unref(gst_object_ref_sink(element)) }
            let missing = error.pointee.domain == gst_parse_error_quark() && error.pointee.code == gint(GST_PARSE_ERROR_NO_SUCH_ELEMENT.rawValue)
            let message = consume(error)
            throw GStreamerError(missing ? "\(message): install the plugin package that has it (scripts/setup installs them all)" : message)
        }
        guard let element else { throw GStreamerError("the description gives no element") }
        return element
    }

    /// Takes a pad (a ghost pad it was given) off this bin.
    public func removePad(_ pad: Pad) {
        gst_element_remove_pad(pointer, pad.pointer)
    }

    /// Adds a pad on this bin that stands for `target`, a pad of an element inside, so that
    /// what is outside links to the bin as a whole.
    @discardableResult
    public func addGhostPad(named name: String, for target: Pad) throws -> Pad {
        guard let ghost = gst_ghost_pad_new(name, target.pointer) else {
            throw GStreamerError("cannot make pad \(name) of \(self.name)")
        }
        // Ours from here (it came floating); the bin takes a reference of its own.
        let pad = Pad(adopting: gst_object_ref_sink(ghost).assumingMemoryBound(to: GstPad.self))
        // A bin that plays already needs the pad active, or what comes through is refused.
        gst_pad_set_active(ghost, 1)
        guard gst_element_add_pad(pointer, ghost) != 0 else {
            throw GStreamerError("cannot add pad \(name) to \(self.name)")
        }
        return pad
    }

    public func add(_ element: Element) {
        _ = mg_bin_add(pointer, element.pointer)
    }

    public func remove(_ element: Element) {
        _ = mg_bin_remove(pointer, element.pointer)
    }

    /// A direct or nested child by name.
    public func element(named name: String) -> Element? {
        mg_bin_get_by_name(pointer, name).map(Element.init(adopting:))
    }

    /// The names of all elements inside, nested ones included.
    public var elementNames: [String] {
        guard let names = mg_bin_element_names(pointer) else { return [] }
        defer { g_strfreev(names) }
        var result: [String] = []
        var index = 0
        while let name = names[index] {
            result.append(String(cString: name))
            index += 1
        }
        return result
    }

    /// How many elements are direct children.
    public var childCount: Int { Int(mg_bin_element_count(pointer)) }
}

extension Element {
    /// Calls `body` (on a streaming thread) with each source pad the element adds: a
    /// decoder's or a demuxer's streams, as they are found.
    public func onPadAdded(_ body: @escaping @Sendable (Pad) -> Void) {
        let box = CallbackBox<Pad>(body)
        _ = mg_connect_pad(pointer, "pad-added", onSourcePadAdded, box.retainedPointer, releaseClosureBox)
    }

    /// Calls `body` (on a streaming thread) once the element has added all its pads.
    public func onNoMorePads(_ body: @escaping @Sendable () -> Void) {
        let box = CallbackBox<Void>({ _ in body() })
        _ = mg_connect_element(pointer, "no-more-pads", onNoMorePadsSignal, box.retainedPointer, releaseClosureBox)
    }

    /// For a uridecodebin: the latency (ms) of the network source it makes for its URI.
    public func setSourceLatency(milliseconds: Int) {
        mg_uridecodebin_set_source_latency(pointer, gint(clamping: milliseconds))
    }
}

private let onSourcePadAdded: @convention(c) (UnsafeMutablePointer<GstElement>?, UnsafeMutablePointer<GstPad>?, gpointer?) -> Void = { _, pad, data in
    guard let pad, mg_pad_direction(pad) == GST_PAD_SRC else { return }
    CallbackBox<Pad>.from(data)?.body(Pad(borrowing: pad))
}

private let onNoMorePadsSignal: @convention(c) (UnsafeMutablePointer<GstElement>?, gpointer?) -> Void = { _, data in
    CallbackBox<Void>.from(data)?.body(())
}
