"""Fan-out benchmark (run by scripts/bench-fanout inside a loopback-only namespace).

Fan-out: one sender and N receive-only gateways (separate `meshgate join --video none
--audio none` processes) in a room of a separate `meshgate serve`. The sender is MeshGate
with `--encode once`, MeshGate with `--encode per-peer`, or headless Chromium sending its
fake camera (the same scrolling bars, from a y4m file) through the browser client. Once
every receiver has its first frame, the sender's CPU (cores busy, from /proc) and memory
are sampled for a fixed window.

First frame: a MeshGate sender stays in a room while late joiners come one at a time, a
receive-only gateway or a new tab of a headless Chromium that keeps running; each says how
long it waited from its `new_user` to its first frame (the gateway's `since_join_ms`, the
page's `firstFrameMs`).
"""
import argparse, http.server, json, os, signal, statistics, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request
from procstats import StatsFile, cpu_seconds, stop, tree

MESHGATE = ".build/release/meshgate"
PAGE = os.sysconf("SC_PAGE_SIZE")



def memory_mib(pids):
    """Proportional set size summed over the processes (RSS for one process): shared pages count once."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Run:
    def __init__(self, port, room, logs):
        self.url = f"ws://127.0.0.1:{port}/room/{room}"
        self.http = f"http://127.0.0.1:{port}/room/{room}"
        self.logs = logs
        self.processes = []

    def start(self, name, argv, **kwargs):
        log = open(os.path.join(self.logs, name + ".log"), "w")
        # A gateway's `--stats` lines go to NAME.stats.
        process = subprocess.Popen(argv, stdout=open(os.path.join(self.logs, name + ".stats"), "w"), stderr=log,
                                   start_new_session=True, **kwargs)
        process.log_path = log.name
        self.processes.append(process)
        return process

    def receivers(self, n):
        for i in range(n):
            self.start(f"r{i}", [MESHGATE, "join", "--server", self.url, "--id", f"r{i}", "--video", "none", "--audio", "none",
                                 "--ice-address", "127.0.0.1", "--log-level", "info", "--stats", "2"])

    def stats_files(self, n):
        return [StatsFile(os.path.join(self.logs, f"r{i}.stats")) for i in range(n)]

    def wait_for_first_frames(self, n, limit):
        def everyone_has_one():
            seen = 0
            for p in self.processes:
                if os.path.basename(p.log_path).startswith("r"):
                    with open(p.log_path) as f:
                        seen += "first frame" in f.read()
            return True if seen == n else None
        return wait_for(everyone_has_one, limit) is not None

    def stop(self):
        stop(*self.processes)


def camera_file(size, folder):
    """Chromium's fake camera: the bars preset's picture at `size` as a y4m file, so that Chromium
    encodes what MeshGate's sender encodes. One whole scroll of the bars (4 px a frame across the
    width), so that looping it does not jump."""
    width, height = size.split("x")
    path = os.path.join(folder, f"bars-{size}.y4m")
    if not os.path.exists(path):
        subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "pattern=smpte", "horizontal-speed=4", f"num-buffers={int(width) // 4}",
                        "!", f"video/x-raw,format=I420,width={width},height={height},framerate=30/1",
                        "!", "y4menc", "!", "filesink", f"location={path}"], check=True)
    return path


def sender(run, mode, size, codec, bitrate, profile):
    if mode == "chromium":
        width, height = size.split("x")
        url = f"{run.http}?autojoin=1&id=sender&size={size}&codec={codec}"
        camera = camera_file(size, os.path.dirname(run.logs))
        return run.start("sender", ["chromium", "--headless=new", "--no-sandbox", f"--user-data-dir={profile}",
                                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                    f"--use-file-for-fake-video-capture={camera}",
                                    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
                                    "--no-first-run", "--disable-gpu", "--mute-audio", f"--window-size={width},{height}", url])
    return run.start("sender", [MESHGATE, "join", "--server", run.url, "--id", "sender", "--encode", mode, "--pipeline", "bars",
                                "--size", size, "--fps", "30", "--video-codec", codec, "--bitrate", str(bitrate),
                                "--ice-address", "127.0.0.1", "--log-level", "info"])


def measure(port, index, mode, size, codec, n, seconds, logs):
    bitrate = 1500 if size == "640x480" else 2500
    run = Run(port, f"bench{index}", os.path.join(logs, f"{index:02d}-{mode}-{codec}-{size}-{n}"))
    os.makedirs(run.logs)
    try:
        # Receivers first, so the sender joins last and offers to all of them, as a newcomer does.
        run.receivers(n)
        time.sleep(1.0)
        process = sender(run, mode, size, codec, bitrate, os.path.join(run.logs, "profile"))
        result = sample(run, process, n, seconds)
        if result is None:
            return None
        cores, memory, windows = result
        return cores, memory, received_kbps(windows)
    finally:
        run.stop()


def sample(run, process, n, seconds):
    """Once every receiver has its first frame, and 3 s more, the sender's CPU (cores busy) and
    memory (MiB) over `seconds`, and the `--stats` lines each receiver wrote meanwhile; None
    when a receiver has no first frame within 60 s."""
    if not run.wait_for_first_frames(n, 60):
        return None
    time.sleep(3)   # past the first keyframes and the browser's bandwidth ramp-up start
    pids = tree(process.pid)
    stats = run.stats_files(n)
    for receiver in stats:
        receiver.new_lines()   # the window starts now
    before, start = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    pids = tree(process.pid)
    cores = (cpu_seconds(pids) - before) / (time.monotonic() - start)
    return cores, memory_mib(pids), [receiver.new_lines() for receiver in stats]


def received_kbps(windows):
    """The median over receivers of what each received from the sender (kbit/s, RTP),
    averaged over its `--stats` lines in the window."""
    rates = []
    for lines in windows:
        values = [line["kbps_in"] for line in lines if line.get("peer") == "sender"]
        if values:
            rates.append(statistics.mean(values))
    return statistics.median(rates) if rates else None


class Reports(http.server.ThreadingHTTPServer):
    """Keeps the latest report each page POSTs to /ID."""
    def __init__(self):
        self.latest = {}
        reports = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    reports.latest[self.path.strip("/")] = json.loads(body)
                except ValueError:
                    pass
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def first_frames(port, joins, logs):
    """Late joiners, one at a time, each waiting for the sender's first frame. The pages are
    tabs of one browser that is already running, as a person's is when they open the link."""
    run = Run(port, "first-frame", os.path.join(logs, "first-frame"))
    os.makedirs(run.logs)
    reports = Reports()
    waits = {"gateway": [], "chromium": []}
    devtools = f"http://127.0.0.1:{port + 1}"
    try:
        sender(run, "once", "640x480", "vp8", 1500, None)
        run.start("browser", ["chromium", "--headless=new", "--no-sandbox", f"--user-data-dir={os.path.join(run.logs, 'profile')}",
                              "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
                              "--disable-features=WebRtcHideLocalIpsWithMdns", "--no-first-run", "--disable-gpu",
                              "--mute-audio", f"--remote-debugging-port={port + 1}", "about:blank"])
        wait_for(lambda: devtools_call(devtools, "GET", "/json/version"))
        time.sleep(2)
        for i in range(joins):
            late = run.start(f"late{i}", [MESHGATE, "join", "--server", run.url, "--id", f"late{i}", "--video", "none",
                                          "--audio", "none", "--ice-address", "127.0.0.1", "--log-level", "info"])
            waits["gateway"].append(wait_for(lambda: since_join(late.log_path)))
            stop(late)
            url = f"{run.http}?autojoin=1&id=page{i}&camera=0&mic=0&report=http://127.0.0.1:{reports.server_address[1]}/page{i}"
            tab = devtools_call(devtools, "PUT", "/json/new?" + urllib.parse.quote(url, safe=""))
            waits["chromium"].append(wait_for(lambda: (reports.latest.get(f"page{i}", {}).get("peers", {})
                                                       .get("sender", {}).get("firstFrameMs"))))
            if tab:
                devtools_call(devtools, "GET", "/json/close/" + tab["id"])
            time.sleep(1)   # the closed tab's peer leaves before the next joiner comes
            print(f"join {i + 1}: gateway {waits['gateway'][-1]} ms, chromium {waits['chromium'][-1]} ms", file=sys.stderr, flush=True)
    finally:
        run.stop()
        reports.shutdown()
    return waits


def devtools_call(base, method, path):
    """A call to Chromium's DevTools HTTP endpoint; its JSON answer, or None."""
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, method=method), timeout=5) as answer:
            return json.loads(answer.read() or b"{}")
    except (OSError, ValueError):
        return None


def since_join(path):
    with open(path) as f:
        for line in f:
            if "first frame" in line and "since_join_ms=" in line:
                return int(line.split("since_join_ms=")[1].split()[0])
    return None


def wait_for(probe, limit=30):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.05)
    return None



def first_frame_report(waits, joins):
    lines = ["| late joiner | joins | first frame: median (ms) | p90 (ms) | min (ms) | max (ms) | no frame within 30 s |",
             "|---|---|---|---|---|---|---|"]
    for name, label in [("gateway", "MeshGate gateway (receive-only)"), ("chromium", "Chromium page (watch-only)")]:
        values = sorted(v for v in waits[name] if v is not None)
        missing = joins - len(values)
        if values:
            p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
            lines.append(f"| {label} | {joins} | {statistics.median(values):.0f} | {p90} | {values[0]} | {values[-1]} | {missing} |")
        else:
            lines.append(f"| {label} | {joins} | - | - | - | - | {missing} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="once,per-peer,chromium")
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--codecs", default="vp8,h264")
    parser.add_argument("--peers", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument("--joins", type=int, default=20, help="late joiners of each kind for the first-frame part (0: skip it)")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    logs = tempfile.mkdtemp(prefix="meshgate-bench-fanout-")
    server = subprocess.Popen([MESHGATE, "serve", "--host", "127.0.0.1", "--port", str(args.port), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(logs, "server.log"), "w"))
    time.sleep(1)
    rows, waits = [], None
    try:
        if args.joins:
            waits = first_frames(args.port, args.joins, logs)
        index = 0
        for size in args.sizes.split(","):
            for codec in args.codecs.split(","):
                for mode in args.modes.split(","):
                    for n in [int(x) for x in args.peers.split(",")]:
                        index += 1
                        result = measure(args.port, index, mode, size, codec, n, args.seconds, logs)
                        rows.append((size, codec, mode, n, result))
                        shown = "no first frame at every receiver within 60 s" if result is None else f"{result[0]:.3f} cores, {result[1]:.0f} MiB, {result[2] or 0:.0f} kbit/s per peer"
                        print(f"{size} {codec} {mode} N={n}: {shown}", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()
    with open(args.output, "w") as out:
        out.write(report(rows, args))
        if waits:
            out.write("\n### Time to first frame (a late joiner, on loopback)\n\n")
            out.write("A MeshGate sender (`--pipeline bars`, 640x480, 30 fps, VP8) is in the room; a late joiner comes,\n"
                      "waits for its first frame from the sender, and leaves, one at a time: a receive-only gateway process,\n"
                      "then a new tab of a Chromium that is already running (as a person's browser is when they open the link).\n"
                      "The time runs from the joiner's\n"
                      "`new_user` to a frame it can decode (the gateway's first complete keyframe, `since_join_ms` in its log)\n"
                      "or shows (the page's first `requestVideoFrameCallback` of the sender's video, `firstFrameMs` in its state).\n\n")
            out.write(first_frame_report(waits, args.joins))
    print(f"logs: {logs}", file=sys.stderr)


def report(rows, args):
    results = {(s, c, m, n): r for s, c, m, n, r in rows}
    peers = [int(x) for x in args.peers.split(",")]

    def marginal(r):
        """CPU per added peer (cores), from the smallest to the largest N."""
        return (r[-1][0] - r[0][0]) / (peers[-1] - peers[0]) if r[0] and r[-1] and len(peers) > 1 else None

    lines = ["| size | codec | sender | received per peer, N=" + f"{peers[0]} / N={peers[-1]} (kbit/s) | "
             + " | ".join(f"N={n} CPU (cores)" for n in peers)
             + " | N=max / N=1 | CPU per added peer (% of a core) | " + " | ".join(f"N={n} memory (MiB)" for n in peers)
             + " | memory per added peer (MiB) |",
             "|---|---|---|---|" + "---|" * (2 * len(peers) + 3)]
    for size in args.sizes.split(","):
        for codec in args.codecs.split(","):
            for mode in args.modes.split(","):
                r = [results.get((size, codec, mode, n)) for n in peers]
                cpu = [f"{x[0]:.3f}" if x else "-" for x in r]
                mem = [f"{x[1]:.0f}" if x else "-" for x in r]
                kbps = " / ".join(f"{x[2]:.0f}" if x and x[2] is not None else "-" for x in [r[0], r[-1]])
                first, last = r[0], r[-1]
                if first and last and len(peers) > 1:
                    ratio = f"{last[0] / first[0]:.2f}x"
                    added = f"{100 * marginal(r):.2f}"
                    memory = f"{(last[1] - first[1]) / (peers[-1] - peers[0]):.1f}"
                else:
                    ratio = added = memory = "-"
                name = {"once": "MeshGate `--encode once`", "per-peer": "MeshGate `--encode per-peer`", "chromium": "Chromium tab"}.get(mode, mode)
                lines.append(f"| {size} | {codec} | {name} | {kbps} | " + " | ".join(cpu) + f" | {ratio} | {added} | "
                             + " | ".join(mem) + f" | {memory} |")
    lines += ["", "Against `--encode once`: sender CPU at the largest N, and CPU per added peer:", "",
              "| size | codec | per-peer / once at N=max | Chromium / once at N=max | per-peer / once per added peer | Chromium / once per added peer |",
              "|---|---|---|---|---|---|"]
    for size in args.sizes.split(","):
        for codec in args.codecs.split(","):
            series = {mode: [results.get((size, codec, mode, n)) for n in peers] for mode in ["once", "per-peer", "chromium"]}
            once, once_added = series["once"][-1], marginal(series["once"])
            at_max, per_peer = [], []
            for mode in ["per-peer", "chromium"]:
                other, other_added = series[mode][-1], marginal(series[mode])
                at_max.append(f"{other[0] / once[0]:.1f}x" if once and other and once[0] > 0 else "-")
                per_peer.append(f"{other_added / once_added:.0f}x" if once_added and other_added and once_added > 0 else "-")
            lines.append(f"| {size} | {codec} | " + " | ".join(at_max + per_peer) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
