import CGStreamer

/// A caps description this handle owns.
public final class Caps: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GstCaps>

    public init?(_ description: String) {
        guard let caps = gst_caps_from_string(description) else { return nil }
        pointer = caps
    }

    init(adopting pointer: UnsafeMutablePointer<GstCaps>) {
        self.pointer = pointer
    }

    deinit {
        gst_mini_object_unref(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstMiniObject.self))
    }

    public var description: String {
        consume(gst_caps_to_string(pointer)) ?? ""
    }

    /// The name of the first structure: `video/x-h264`, `audio/x-raw`…
    public var name: String? {
        gst_caps_get_structure(pointer, 0).flatMap { gst_structure_get_name($0) }.map { String(cString: $0) }
    }

    /// The fields of the first structure, as strings (e.g. "media", "encoding-name").
    public func string(_ field: String) -> String? {
        guard let structure = gst_caps_get_structure(pointer, 0),
              let value = gst_structure_get_string(structure, field) else { return nil }
        return String(cString: value)
    }

    public func int(_ field: String) -> Int? {
        guard let structure = gst_caps_get_structure(pointer, 0) else { return nil }
        var value: gint = 0
        return gst_structure_get_int(structure, field, &value) != 0 ? Int(value) : nil
    }
}

extension Caps {
    /// Whether no format fits these caps.
    public var isEmpty: Bool { gst_caps_is_empty(pointer) != 0 }

    /// What fits both these caps and `other`, in the order of these.
    public func intersection(_ other: Caps) -> Caps {
        Caps(adopting: gst_caps_intersect_full(pointer, other.pointer, GST_CAPS_INTERSECT_FIRST))
    }

    /// Each structure's width and height where both are fixed, without repeats, in order.
    public var sizes: [(width: Int, height: Int)] {
        var sizes: [(width: Int, height: Int)] = []
        for index in 0..<gst_caps_get_size(pointer) {
            var width: gint = 0, height: gint = 0
            guard let structure = gst_caps_get_structure(pointer, index),
                  gst_structure_get_int(structure, "width", &width) != 0, gst_structure_get_int(structure, "height", &height) != 0,
                  !sizes.contains(where: { $0.width == Int(width) && $0.height == Int(height) }) else { continue }
            sizes.append((Int(width), Int(height)))
        }
        return sizes
    }

    /// One format of the first structure, every field fixed: the frame rate nearest `fps`,
    /// the rest as GStreamer fixes them (the lowest of a range, the first of a list).
    public func fixated(framerateNearest fps: Int) -> Caps {
        let first: UnsafeMutablePointer<GstCaps> = gst_caps_copy_nth(pointer, 0)
        if let structure = gst_caps_get_structure(first, 0), gst_structure_has_field(structure, "framerate") != 0 {
            gst_structure_fixate_field_nearest_fraction(structure, "framerate", gint(fps), 1)
        }
        // gst_caps_fixate takes the copy, which nothing else holds.
        return Caps(adopting: gst_caps_fixate(first))
    }
}
