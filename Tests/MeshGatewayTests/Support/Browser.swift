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
    private let logPath: String

    /// Opens `url` (which must pass `report=reports.url(for: id)` to the page).
    init(_ kind: Kind, id: String, url: String, reports: PageReports) throws {
        self.kind = kind
        self.id = id
        self.reports = reports
        let profile = try temporaryDirectory("\(kind)-\(id)")
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
                "--no-first-run", "--disable-gpu", "--window-size=1280,800", url,
            ]
        case .firefox:
            try Self.firefoxPreferences.write(toFile: profile + "/user.js", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/firefox-esr")
            process.arguments = ["--headless", "--no-remote", "--profile", profile, url]
        }
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.environment = ProcessInfo.processInfo.environment.merging(["HOME": profile]) { _, new in new }
        try process.run()
    }

    /// Fake media, no permission prompts, and ICE on loopback with real addresses.
    static let firefoxPreferences = """
        user_pref("media.navigator.streams.fake", true);
        user_pref("media.navigator.permission.disabled", true);
        user_pref("media.peerconnection.ice.loopback", true);
        user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
        user_pref("media.autoplay.default", 0);
        user_pref("browser.shell.checkDefaultBrowser", false);
        user_pref("datareporting.policy.dataSubmissionEnabled", false);
        user_pref("toolkit.telemetry.reportingPolicy.firstRun", false);
        user_pref("app.update.enabled", false);

        """

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
            throw Timeout(description: "\(error)\nlast report: \(reports.latestText(from: id) ?? "none")\nbrowser log: \(logTail)")
        }
    }

    /// Closes the browser as a user closing the window would, and waits until it has gone.
    func close() async throws {
        guard process.isRunning else { return }
        process.terminate()
        try await eventually("\(kind) \(id) to exit") { process.isRunning ? nil : true }
    }

    private var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}
