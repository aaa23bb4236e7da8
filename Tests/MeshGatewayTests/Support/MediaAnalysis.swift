import Foundation
import MeshTestSupport

/// What a person would see and hear in a recording, measured: the brightness of a frame's
/// regions, and how loud given pitches are. Decoded by gst-launch-1.0, as a player would.
enum MediaAnalysis {
    /// The luma of the frame `fromEnd` seconds before the end of `path`'s video, scaled to
    /// `width`x`height`, row by row.
    static func frame(of path: String, width: Int, height: Int, fromEnd seconds: Double = 0.5, fps: Int = 10) async throws -> [UInt8] {
        let raw = try await decode(path, ["!", "videoconvert", "!", "videorate", "!", "videoscale", "!",
                                          "video/x-raw,format=GRAY8,width=\(width),height=\(height),framerate=\(fps)/1"])
        let size = width * height
        let frames = raw.count / size
        let index = frames - 1 - Int(seconds * Double(fps))
        guard index >= 0 else { throw Timeout(description: "\(path) has \(frames) frames, too few to look \(seconds) s before its end") }
        return Array(raw[index * size ..< (index + 1) * size])
    }

    /// The average luma of each frame of `path`'s video, `fps` frames a second, from its start.
    static func brightness(of path: String, fps: Int = 4) async throws -> [Double] {
        let (width, height) = (80, 60)
        let raw = try await decode(path, ["!", "videoconvert", "!", "videorate", "!", "videoscale", "!",
                                          "video/x-raw,format=GRAY8,width=\(width),height=\(height),framerate=\(fps)/1"])
        return stride(from: 0, to: raw.count - width * height + 1, by: width * height).map { start in
            Double(raw[start ..< start + width * height].reduce(0) { $0 + Int($1) }) / Double(width * height)
        }
    }

    /// The power of each pitch in `hertz` over `path`'s audio (or the part of it `window`
    /// seconds before its end), against the power of the whole signal (1: all of it at that
    /// pitch), by Goertzel's algorithm.
    static func tones(in path: String, hertz: [Int], window: ClosedRange<Double>? = nil) async throws -> [Int: Double] {
        let samples = try await audio(of: path)
        return power(of: hertz, in: window.map { part(of: samples, window: $0) } ?? samples[...])
    }

    /// How much of each pitch in `hertz` one hears in each of `windows` (seconds before the
    /// end of `path`'s audio): its share of the power (1: all of it) in blocks of 0.2 s,
    /// averaged over the blocks that are not silent. Short blocks, each windowed, leave a
    /// tone its full share across a glitch (a bit of sound dropped or repeated by a busy
    /// mixer), which shifts its phase: over a whole window in one piece the parts before
    /// and after would cancel out.
    static func heard(in path: String, hertz: [Int], windows: [ClosedRange<Double>]) async throws -> [[Int: Double]] {
        let samples = try await audio(of: path)
        let length = rate / 5
        let hann = (0..<length).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(length)) }
        return windows.map { window in
            let piece = part(of: samples, window: window)
            let shares = stride(from: piece.startIndex, to: piece.endIndex - length + 1, by: length).compactMap { start -> [Int: Double]? in
                let block = zip(piece[start..<start + length], hann).map { $0 * $1 }
                let total = block.reduce(0) { $0 + $1 * $1 }
                guard total > 0 else { return nil }
                // A tone under a Hann window puts n²a²/16 in its bin and 3n·a²/16 in the total.
                return Dictionary(uniqueKeysWithValues: hertz.map { ($0, 3 * goertzel($0, block) / (Double(length) * total)) })
            }
            return Dictionary(uniqueKeysWithValues: hertz.map { frequency in
                (frequency, shares.reduce(0) { $0 + ($1[frequency] ?? 0) } / Double(max(1, shares.count)))
            })
        }
    }

    private static let rate = 16_000

    private static func audio(of path: String) async throws -> [Double] {
        let raw = try await decode(path, ["!", "audioconvert", "!", "audioresample", "!", "audio/x-raw,format=S16LE,channels=1,rate=\(rate)"])
        return raw.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }.map { Double($0) / 32_768 }
    }

    private static func part(of samples: [Double], window: ClosedRange<Double>) -> ArraySlice<Double> {
        let end = max(0, samples.count - Int(window.lowerBound * Double(rate)))
        return samples[min(end, max(0, samples.count - Int(window.upperBound * Double(rate))))..<end]
    }

    private static func power<Samples: Collection<Double>>(of hertz: [Int], in samples: Samples) -> [Int: Double] {
        let total = samples.reduce(0) { $0 + $1 * $1 }
        guard total > 0 else { return Dictionary(uniqueKeysWithValues: hertz.map { ($0, 0) }) }
        // A pure tone of n samples and amplitude a puts n²a²/4 in its bin and n·a²/2 in the total.
        return Dictionary(uniqueKeysWithValues: hertz.map { ($0, 2 * goertzel($0, samples) / (Double(samples.count) * total)) })
    }

    /// The power of `samples` at `frequency`, by Goertzel's algorithm.
    private static func goertzel<Samples: Collection<Double>>(_ frequency: Int, _ samples: Samples) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * Double(frequency) / Double(rate))
        var (previous, beforeThat) = (0.0, 0.0)
        for sample in samples {
            (previous, beforeThat) = (sample + coefficient * previous - beforeThat, previous)
        }
        return previous * previous + beforeThat * beforeThat - coefficient * previous * beforeThat
    }

    /// The average luma of a region of a frame given as fractions of its size.
    static func mean(_ frame: [UInt8], width: Int, x: ClosedRange<Double>, y: ClosedRange<Double>) -> Double {
        let height = frame.count / width
        let columns = Int(x.lowerBound * Double(width)) ..< Int(x.upperBound * Double(width))
        let rows = Int(y.lowerBound * Double(height)) ..< Int(y.upperBound * Double(height))
        let sum = rows.reduce(0) { total, row in columns.reduce(total) { $0 + Int(frame[row * width + $1]) } }
        return Double(sum) / Double(max(1, rows.count * columns.count))
    }

    /// The spread of luma in a region: high for a test pattern, near zero for a flat colour.
    static func spread(_ frame: [UInt8], width: Int, x: ClosedRange<Double>, y: ClosedRange<Double>) -> Double {
        let height = frame.count / width
        let average = mean(frame, width: width, x: x, y: y)
        var squares = 0.0, count = 0.0
        for row in Int(y.lowerBound * Double(height)) ..< Int(y.upperBound * Double(height)) {
            for column in Int(x.lowerBound * Double(width)) ..< Int(x.upperBound * Double(width)) {
                let difference = Double(frame[row * width + column]) - average
                squares += difference * difference
                count += 1
            }
        }
        return (squares / max(1, count)).squareRoot()
    }

    /// Runs `filesrc ! decodebin <tail> ! filesink` and returns what it wrote. A second try
    /// after a hang: gst-launch-1.0 has been seen (once in some fifty hub tests) to write
    /// all of a file's sound and then never exit.
    private static func decode(_ path: String, _ tail: [String]) async throws -> Data {
        for attempt in 1...2 {
            let output = try temporaryDirectory("analysis") + "/raw"
            let process = try MeshgateProcess(["-q", "filesrc", "location=\(path)", "!", "decodebin"] + tail + ["!", "filesink", "location=\(output)"],
                                              executable: "/usr/bin/gst-launch-1.0")
            let status: Int32
            do {
                status = try await process.exitCode(within: .seconds(20))
            } catch where attempt == 1 {
                continue
            }
            guard status == 0 else { throw Timeout(description: "\(path) does not decode: \(process.stderr)") }
            return try Data(contentsOf: URL(fileURLWithPath: output))
        }
        throw Timeout(description: "gst-launch-1.0 never finished decoding \(path)")
    }
}
