import Foundation
import Logging

/// `meshgate ctl`: each command done by the loop in turn, like any other event.
extension GatewayLoop {
    func control(_ command: ControlCommand) async -> ControlReply {
        switch command {
        case .peers:
            return .peers(peers.values.sorted { $0.id < $1.id }.map { session in
                PeerStatus(
                    id: session.id, name: membership.names[session.id] ?? session.id, state: session.shownState,
                    videoCodec: session.sentVideoCodec?.rawValue, kbpsIn: session.rates.kbpsIn.map { Int($0.rounded()) },
                    kbpsOut: session.rates.kbpsOut.map { Int($0.rounded()) }, recording: session.recordingPath
                )
            })
        case .mute(let kind), .unmute(let kind):
            let muted = command == .mute(kind)
            if let reason = media.setMuted(kind, muted) { return .refused(reason) }
            let now = muted ? (kind == .video ? "peers get black frames" : "peers get silence") : "peers get the source again"
            logger.info(muted ? "muted" : "unmuted", metadata: ["kind": "\(kind.rawValue)", "asked_by": "meshgate ctl"])
            return .done("\(kind.rawValue) \(muted ? "muted" : "unmuted"): \(now)")
        case .source(let kind, let text, let loop):
            if let reason = media.unalterable(kind, doing: "switched") { return .refused(reason) }
            do throws(GatewayError) {
                let target = try SourceSwitch.Target(text, kind: kind)
                try await switcher.switchTo(target, kind: kind, loop: loop)
                if kind == .video { newScene() }
                logger.info("source switched", metadata: ["kind": "\(kind.rawValue)", "to": "\(target.shown)", "loop": "\(loop)", "asked_by": "meshgate ctl"])
                let then = !target.isFile ? "" : loop ? ", over and over" : "; at its end, the source the gateway started with again"
                return .done("\(kind.rawValue) now comes from \(target.shown)\(then)")
            } catch {
                return .refused(error.description)
            }
        case .recordStart(let directory):
            return await startRecording(into: directory)
        case .recordStop:
            return await stopRecording()
        case .leave:
            gateway.stop(reason: "asked to leave (meshgate ctl leave)")
            return .done("leaving the call")
        }
    }

    /// A switched-in source ended: a looped file starts over, anything else gives way to the
    /// source the gateway started with.
    func switchedSourceEnded(_ bin: String) async {
        let ending = await switcher.ended(bin: bin)
        switch ending {
        case .restarted(.video), .original(.video, _): newScene()
        default: break
        }
        switch ending {
        case .restarted(let kind):
            logger.info("the switched-in file ended; it plays again", metadata: ["kind": "\(kind.rawValue)"])
        case .original(let kind, let reason):
            var metadata: Logger.Metadata = ["kind": "\(kind.rawValue)"]
            if let reason { metadata["reason"] = "\(reason)" }
            logger.info("the switched-in source ended; back to the source the gateway started with", metadata: metadata)
        case nil:
            break
        }
    }

    /// Another picture starts: each peer gets a keyframe of it at once rather than a slow
    /// morph from the last one.
    func newScene() {
        for session in peers.values { session.media.requestKeyframe() }
    }

    private func startRecording(into directory: String) async -> ControlReply {
        var isFolder: ObjCBool = false
        guard directory.hasPrefix("/"), FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            return .refused("no folder \(directory): make it first")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            return .refused("cannot write in \(directory): give a folder the gateway's user may write in")
        }
        if let current = context.recording.directory { return .refused("already recording into \(current): stop that first") }
        context.recording.directory = directory
        var files: [String] = []
        for session in peers.values.sorted(by: { $0.id < $1.id }) {
            do {
                if let path = try await session.startRecording(into: directory) { files.append(path) }
            } catch {
                logger.error("cannot record a peer", metadata: ["peer": "\(session.id)", "reason": "\(error)"])
            }
        }
        logger.info("recording started", metadata: ["directory": "\(directory)", "files": "\(files.joined(separator: ", "))", "asked_by": "meshgate ctl"])
        return .done(([ "recording into \(directory), and each peer that comes" ] + files).joined(separator: "\n"))
    }

    private func stopRecording() async -> ControlReply {
        let wasRecording = context.recording.directory != nil
        context.recording.directory = nil
        var files: [String] = []
        for session in peers.values.sorted(by: { $0.id < $1.id }) {
            if let path = await session.stopRecording() { files.append(path) }
        }
        guard wasRecording || !files.isEmpty else { return .refused("nothing is being recorded") }
        logger.info("recording stopped", metadata: ["files": "\(files.joined(separator: ", "))", "asked_by": "meshgate ctl"])
        return .done((["recordings finalised: \(files.count)"] + files).joined(separator: "\n"))
    }
}
