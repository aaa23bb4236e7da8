import ArgumentParser
import GStreamer

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the cameras and microphones GStreamer finds, with their formats."
    )

    func run() {
        for (title, deviceClass) in [("Cameras", "Video/Source"), ("Microphones", "Audio/Source")] {
            let devices = Device.list(deviceClass)
            print("\(title):")
            if devices.isEmpty { print("  none found") }
            for device in devices {
                print("  \(device.name)" + (device.sourceArgument.map { "  (use: \($0))" } ?? ""))
                for format in device.formats { print("    \(format)") }
            }
        }
    }
}
