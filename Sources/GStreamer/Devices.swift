import CGStreamer

/// A camera or microphone GStreamer's device monitor found.
public struct Device: Sendable {
    /// What the system calls it ("HD Webcam C525").
    public let name: String
    /// "Video/Source" or "Audio/Source".
    public let deviceClass: String
    /// One caps description per format it offers.
    public let formats: [String]
    /// The device's properties (device.path for cameras, alsa.card for microphones...).
    public let properties: [String: String]

    /// What MeshGate's --video/--audio flags take for it: `v4l2:/dev/video0`, `alsa:hw:1,0`.
    public var sourceArgument: String? {
        if let path = properties["device.path"] ?? properties["api.v4l2.path"], deviceClass.hasPrefix("Video") {
            return "v4l2:\(path)"
        }
        if let card = properties["alsa.card"], deviceClass.hasPrefix("Audio") {
            return "alsa:hw:\(card),\(properties["alsa.device"] ?? "0")"
        }
        return nil
    }

    /// Devices of a class ("Video/Source", "Audio/Source") found now.
    public static func list(_ deviceClass: String) -> [Device] {
        GStreamer.initialize()
        guard let list = mg_devices(deviceClass) else { return [] }
        defer { mg_device_list_free(list) }
        var devices: [Device] = []
        var node: UnsafeMutablePointer<GList>? = list
        while let current = node {
            let device = mg_device_at(current)
            let name = consume(gst_device_get_display_name(device)) ?? "unnamed"
            let type = consume(gst_device_get_device_class(device)) ?? deviceClass
            var formats: [String] = []
            if let caps = gst_device_get_caps(device) {
                let owned = Caps(adopting: caps)
                for index in 0..<gst_caps_get_size(owned.pointer) {
                    if let structure = gst_caps_get_structure(owned.pointer, index), let text = consume(gst_structure_to_string(structure)) {
                        formats.append(text)
                    }
                }
            }
            var properties: [String: String] = [:]
            if let structure = gst_device_get_properties(device) {
                for index in 0..<gst_structure_n_fields(structure) {
                    guard let field = gst_structure_nth_field_name(structure, guint(index)),
                          let value = gst_structure_get_value(structure, field),
                          let text = consume(gst_value_serialize(value)) else { continue }
                    properties[String(cString: field)] = text.count >= 2 && text.first == "\"" && text.last == "\"" ? String(text.dropFirst().dropLast()) : text
                }
                gst_structure_free(structure)
            }
            devices.append(Device(name: name, deviceClass: type, formats: formats, properties: properties))
            node = current.pointee.next
        }
        return devices
    }
}

extension Device {
    /// The formats the camera at `path` (the default one when nil) gives, asked of the
    /// device itself, which is opened for a moment: nil when it cannot be opened.
    public static func cameraCaps(_ path: String?) -> Caps? {
        GStreamer.initialize()
        guard let source = try? Element.make("v4l2src") else { return nil }
        if let path { source.set("device", path) }
        defer { source.setState(.null) }
        guard source.setState(.ready) else { return nil }
        return source.staticPad("src")?.caps
    }
}
