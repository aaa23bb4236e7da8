"""Passthrough benchmark (run by scripts/bench-passthrough inside a loopback-only namespace).

An RTSP camera (Tests/MeshGatewayTests/Fixtures/rtsp-camera.py: H.264 and A-law) is sent by a
MeshGate sender to N receive-only gateways, as it comes ("passthrough") or decoded and encoded
once for every peer (`--transcode`). Measured as in the fan-out benchmark, whose helpers this
uses: the sender's CPU (cores busy) and its RSS, the camera's own CPU not counted. Each run
checks that the sender did what was asked of it (its `video_out` for every peer) and that
every receiver got frames all along, and stops with an error otherwise.
"""
import argparse, importlib, os, signal, subprocess, sys, tempfile, time
from procstats import StatsFile

# The fan-out benchmark's file name has a dash, which `import` cannot spell.
fanout = importlib.import_module("bench-fanout")

CAMERA = "Tests/MeshGatewayTests/Fixtures/rtsp-camera.py"
STATS_EVERY = 2   # the receivers' `--stats` interval (bench-fanout's Run.receivers)
# What the sender's `video_out` must say for each mode.
VIDEO_OUT = {"transcode": "encoded", "passthrough": "passthrough"}
# How much more than transcoding one added peer may cost in passthrough and still count as
# "the same": half a percent of a core, less than a per-peer cost moved between runs of one
# build in the fan-out benchmark (1.6 to 3.0 %, see the notes under its table).
TOLERANCE = 0.005


def start_camera(size, fps, bitrate, logs):
    """The camera, serving until the run ends; its URL."""
    camera = subprocess.Popen(["/usr/bin/python3", CAMERA, "0", "--size", size, "--fps", str(fps), "--bars",
                               "--bitrate", str(bitrate)],
                              stdout=subprocess.PIPE, stderr=open(os.path.join(logs, "camera.log"), "w"), text=True,
                              start_new_session=True)   # fanout.stop ends a process group
    line = camera.stdout.readline()
    if not line.startswith("ready "):
        sys.exit(f"the RTSP camera did not start: see {logs}/camera.log")
    return camera, f"rtsp://127.0.0.1:{line.split()[1]}/camera"


def measure(args, index, mode, camera, n, logs):
    """(cores, RSS in MiB, median kbit/s received per peer, slowest receiver's frames/s)."""
    run = fanout.Run(args.port, f"bench{index}", os.path.join(logs, f"{index:02d}-{mode}-{n}"))
    os.makedirs(run.logs)
    try:
        # Receivers first, so the sender joins last and offers to all of them, as a newcomer does.
        run.receivers(n)
        time.sleep(1.0)
        # The same flags for both modes (--size/--fps/--bitrate only matter when transcoding),
        # and H.264 only, so that both send the same codec.
        process = run.start("sender", [fanout.MESHGATE, "join", "--server", run.url, "--id", "sender",
                                       "--video", camera, "--audio", camera, "--video-codec", "h264",
                                       "--size", args.size, "--fps", str(args.fps), "--bitrate", str(args.bitrate),
                                       "--ice-address", "127.0.0.1", "--log-level", "info", "--stats", str(STATS_EVERY)]
                            + (["--transcode"] if mode == "transcode" else []))
        result = fanout.sample(run, process, n, args.seconds)
        if result is None:
            sys.exit(f"{mode} N={n}: a receiver had no first frame within 60 s: see {run.logs}")
        cores, _, windows = result
        check_sender(run, mode, n)
        return cores, rss_mib(process.pid), fanout.received_kbps(windows), slowest_fps(run, mode, n, windows)
    finally:
        run.stop()


def check_sender(run, mode, n):
    """Every receiver is sent H.264 the way `mode` asks: the sender's latest `--stats` line for each."""
    latest = {line["peer"]: line for line in StatsFile(os.path.join(run.logs, "sender.stats")).new_lines()}
    for i in range(n):
        line = latest.get(f"r{i}", {})
        if (line.get("video_out"), line.get("video_codec")) != (VIDEO_OUT[mode], "h264"):
            sys.exit(f"{mode} N={n}: the sender sent r{i} video_out={line.get('video_out')} "
                     f"video_codec={line.get('video_codec')}, not {VIDEO_OUT[mode]} h264: see {run.logs}")


def slowest_fps(run, mode, n, windows):
    """The frames per second the slowest receiver unpacked in the window; stops the run if one got none."""
    rates = []
    for i, lines in enumerate(windows):
        frames = [line["frames_in"] for line in lines if line.get("peer") == "sender"]
        if len(frames) < 2 or frames[-1] == frames[0]:
            sys.exit(f"{mode} N={n}: r{i} got no frames from the sender in the window: see {run.logs}")
        rates.append((frames[-1] - frames[0]) / (STATS_EVERY * (len(frames) - 1)))
    return min(rates)


def rss_mib(pid):
    """The process's resident set (its PSS would shrink as more receivers share the binary's pages)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=30, help="the measuring window")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=2500, help="the camera's and the transcoder's (kbit/s)")
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    if args.seconds < 5:
        parser.error("--seconds must be at least 5: the receivers' frames are checked from two --stats lines")
    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    logs = tempfile.mkdtemp(prefix="meshgate-bench-passthrough-")
    print(f"logs: {logs}", file=sys.stderr)
    camera, url = start_camera(args.size, args.fps, args.bitrate, logs)
    server = subprocess.Popen([fanout.MESHGATE, "serve", "--host", "127.0.0.1", "--port", str(args.port), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(logs, "server.log"), "w"))
    peers = [int(x) for x in args.peers.split(",")]
    results = {}
    try:
        index = 0
        for n in peers:
            # Both modes at each N in turn, so that the machine's drift weighs on both alike.
            for mode in ["transcode", "passthrough"]:
                index += 1
                results[mode, n] = measure(args, index, mode, url, n, logs)
                cores, rss, kbps, fps = results[mode, n]
                print(f"{mode} N={n}: {cores:.3f} cores, {rss:.0f} MiB, {kbps or 0:.0f} kbit/s per peer, "
                      f"slowest receiver {fps:.1f} frames/s", file=sys.stderr, flush=True)
    finally:
        fanout.stop(camera)
        server.terminate()
        server.wait()
    with open(args.output, "w") as out:
        out.write(report(results, peers))


def report(results, peers):
    def per_peer(mode, a, b):
        """CPU per added peer from N=a to N=b (cores)."""
        return (results[mode, b][0] - results[mode, a][0]) / (b - a)

    lines = ["| N | transcode CPU (cores) | passthrough CPU (cores) | passthrough / transcode "
             "| transcode, per added peer (% of a core) | passthrough, per added peer (% of a core) "
             "| transcode RSS (MiB) | passthrough RSS (MiB) | received per peer, transcode / passthrough (kbit/s) "
             "| slowest receiver, transcode / passthrough (frames/s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for previous, n in zip([None] + peers, peers):
        t, p = results["transcode", n], results["passthrough", n]
        added = [f"{100 * per_peer(mode, previous, n):.2f}" if previous else "-" for mode in ["transcode", "passthrough"]]
        lines.append(f"| {n} | {t[0]:.3f} | {p[0]:.3f} | {p[0] / t[0]:.2f} | {added[0]} | {added[1]} | {t[1]:.0f} | {p[1]:.0f} "
                     f"| {t[2] or 0:.0f} / {p[2] or 0:.0f} | {t[3]:.1f} / {p[3]:.1f} |")
    lines.append("")
    # "per added peer" in a row is from the row before; the targets take it from the smallest N to the largest.
    first = peers[0]
    ratio = results["passthrough", first][0] / results["transcode", first][0]
    lines.append(f"- Target: at N={first} passthrough costs at most a third of transcoding: "
                 f"{ratio:.2f} of it ({results['passthrough', first][0]:.3f} against {results['transcode', first][0]:.3f} cores), "
                 + ("met." if ratio <= 1 / 3 else "not met."))
    if len(peers) > 1:
        last = peers[-1]
        t, p = per_peer("transcode", first, last), per_peer("passthrough", first, last)
        lines.append(f"- Target: one more peer costs in passthrough what it costs encoding once (`--transcode`), "
                     f"from N={first} to N={last}: {100 * p:.2f} % of a core against {100 * t:.2f} %, "
                     + ("met." if p <= t else f"met within {100 * TOLERANCE:.1f} % of a core." if p <= t + TOLERANCE else "not met."))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
