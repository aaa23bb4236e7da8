import Foundation
import MeshTestSupport
import Synchronization

/// A real headless browser (Debian's Chromium or Firefox ESR, fake camera and microphone)
/// showing one page, for one test. The page reports what it sees to `reports` under `id`.
final class Browser: Sendable {
    enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        case chromium, firefox
        var description: String { rawValue }
    }

    let kind: Kind
    let id: String
    private let reports: PageReports
    private let process: Process
    private let profile: String
    private let logPath: String

    /// Opens `url` (which must pass `report=reports.url(for: id)` to the page).
    /// `h264: false` gives Firefox no H.264 at all, as Debian's Firefox without OpenH264 is.
    init(_ kind: Kind, id: String, url: String, reports: PageReports, h264: Bool = true) throws {
        self.kind = kind
        self.id = id
        self.reports = reports
        let profile = try temporaryDirectory("\(kind)-\(id)")
        self.profile = profile
        logPath = profile + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        switch kind {
        case .chromium:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
            process.arguments = [
                "--headless=new", "--no-sandbox", "--user-data-dir=\(profile)",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
                "--no-first-run", "--disable-gpu", "--window-size=1280,800", "--remote-debugging-port=0", "--remote-allow-origins=*",
                // A name that is not localhost: a page there is not a secure context, as on a LAN.
                "--host-resolver-rules=MAP *.test 127.0.0.1",
                // Without camera permission Chromium hides its address behind an mDNS name, and
                // nothing answers mDNS in a loopback-only namespace.
                "--disable-features=WebRtcHideLocalIpsWithMdns", url,
            ]
        case .firefox:
            let preferences = h264 ? Self.firefoxPreferences : Self.firefoxPreferences.split(separator: "\n")
                .filter { !$0.contains("h264") && !$0.contains("encoder_creation_strategy") }.joined(separator: "\n")
            try preferences.write(toFile: profile + "/user.js", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/firefox-esr")
            process.arguments = ["--headless", "--no-remote", "--profile", profile, url]
        }
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile
        if kind == .firefox, h264 { environment["LD_PRELOAD"] = try Self.x264Shim() }
        process.environment = environment
        try process.run()
    }

    /// Fake media, no permission prompts, ICE on loopback with real addresses, and H.264
    /// through the system's libavcodec (Debian's Firefox has no OpenH264 plugin).
    static let firefoxPreferences = """
        user_pref("media.navigator.streams.fake", true);
        user_pref("media.navigator.permission.disabled", true);
        user_pref("media.peerconnection.ice.loopback", true);
        user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
        user_pref("media.autoplay.default", 0);
        user_pref("media.webrtc.hw.h264.enabled", true);
        user_pref("gfx.blacklist.webrtc.hw.acceleration.h264", 1);
        user_pref("media.webrtc.encoder_creation_strategy", 1);
        user_pref("browser.shell.checkDefaultBrowser", false);
        user_pref("datareporting.policy.dataSubmissionEnabled", false);
        user_pref("toolkit.telemetry.reportingPolicy.firstRun", false);
        user_pref("app.update.enabled", false);

        """

    /// `Fixtures/firefox-x264-zerolatency.c`, built once per test run: without it Debian's
    /// Firefox sends no H.264 (the file says why).
    private static func x264Shim() throws -> String {
        try shim.withLock { built in
            if let built { return built }
            guard let source = Bundle.module.path(forResource: "firefox-x264-zerolatency", ofType: "c", inDirectory: "Fixtures") else {
                throw Timeout(description: "Fixtures/firefox-x264-zerolatency.c is missing")
            }
            let library = try temporaryDirectory("x264-shim") + "/x264-zerolatency.so"
            let compiler = Process()
            compiler.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
            compiler.arguments = ["-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"]
            try compiler.run()
            compiler.waitUntilExit()
            guard compiler.terminationStatus == 0 else { throw Timeout(description: "cannot build \(source) with cc") }
            built = library
            return library
        }
    }

    private static let shim = Mutex<String?>(nil)

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// The page's latest report.
    var report: BrowserReport? { reports.latest(from: id) }

    /// Waits until the page reports `condition`; on timeout the message holds the last report.
    @discardableResult
    func waitUntil(_ what: String, within limit: Duration = .seconds(30), _ condition: @escaping (BrowserReport) -> Bool) async throws -> BrowserReport {
        do {
            return try await eventually("\(kind) \(id): \(what)", within: limit) { () -> BrowserReport? in
                guard let report = reports.latest(from: id), condition(report) else { return nil }
                return report
            }
        } catch {
            // The message holds the report without its SDPs; the whole one is kept beside the log.
            let text = reports.latestText(from: id) ?? "none"
            try? text.write(toFile: logPath + ".report.json", atomically: true, encoding: .utf8)
            let short = text.replacingOccurrences(of: #""(local|remote)Description":"(\\.|[^"\\])*",?"#, with: "", options: .regularExpression)
            throw Timeout(description: "\(error)\nlast report (whole: \(logPath).report.json): \(short)\nbrowser log: \(logTail)")
        }
    }

    /// Chromium's DevTools on the page, to click and to take screenshots.
    func devTools() async throws -> DevTools {
        guard kind == .chromium else { throw Timeout(description: "DevTools are only used with Chromium") }
        return try await DevTools.attach(profile: profile)
    }

    /// Closes the browser as a user closing the window would, and waits until it has gone
    /// (killed if it takes more than five seconds).
    func close() async throws {
        guard process.isRunning else { return }
        process.terminate()
        if (try? await eventually("\(kind) \(id) to exit", within: .seconds(5)) { process.isRunning ? nil : true }) == nil {
            kill(process.processIdentifier, SIGKILL)
            try await eventually("\(kind) \(id) to be killed") { process.isRunning ? nil : true }
        }
    }

    private var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}
