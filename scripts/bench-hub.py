"""Mesh room against hub room, N participants (see scripts/bench-hub): writes a Markdown table."""
import argparse, os, signal, statistics, subprocess, sys, tempfile, time
from procstats import StatsFile, cpu_seconds, stop, tree

MESHGATE = ".build/release/meshgate"
PAGE = os.sysconf("SC_PAGE_SIZE")



def resident_mib(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except OSError:
        return 0


def start(argv, log, stats=None):
    return subprocess.Popen(argv, stdout=open(stats, "w") if stats else subprocess.DEVNULL, stderr=open(log, "w"),
                            start_new_session=True)



def first_frames(log):
    with open(log) as f:
        return f.read().count("first frame")


def measure(kind, n, args, logs):
    """Runs a serve and n gateways in a room of `kind` (mesh or hub); once every gateway has
    a first frame from each peer it should have, and 3 s more, samples a window of
    `args.seconds`. None if that never happens within 90 s."""
    port = args.port
    folder = os.path.join(logs, f"{kind}-{n}")
    os.makedirs(folder)
    server = start([MESHGATE, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                    "--hub-size", args.size, "--hub-fps", str(args.fps), "--hub-bitrate", str(args.bitrate),
                    "--hub-ice-address", "127.0.0.1"], os.path.join(folder, "server.log"))
    time.sleep(1)
    url = f"ws://127.0.0.1:{port}/{'hub' if kind == 'hub' else 'room'}/bench"
    gateways = []
    for i in range(n):
        gateways.append(start([MESHGATE, "join", "--server", url, "--id", f"p{i}", "--pipeline", "bars",
                               "--size", args.size, "--fps", str(args.fps), "--bitrate", str(args.bitrate),
                               "--ice-address", "127.0.0.1", "--log-level", "info", "--stats", "2"],
                              os.path.join(folder, f"p{i}.log"), os.path.join(folder, f"p{i}.stats")))
    expected = 1 if kind == "hub" else n - 1
    try:
        deadline = time.monotonic() + 90
        while any(first_frames(os.path.join(folder, f"p{i}.log")) < expected for i in range(n)):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)
        time.sleep(3)
        stats = [StatsFile(os.path.join(folder, f"p{i}.stats")) for i in range(n)]
        for s in stats:
            s.new_lines()
        everyone = [p for g in gateways for p in tree(g.pid)]
        server_pids = tree(server.pid)
        before = (cpu_seconds(server_pids), cpu_seconds(everyone))
        began = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - began
        server_cores = (cpu_seconds(server_pids) - before[0]) / elapsed
        participant_cores = (cpu_seconds(everyone) - before[1]) / elapsed / n
        windows = [s.new_lines() for s in stats]
        return server_cores, resident_mib(server.pid), participant_cores, per_participant(windows)
    finally:
        stop(*gateways, server)


def per_participant(windows):
    """Median over participants of: connected peers, and the sums over its peers of the mean
    kbps_out and kbps_in of its `--stats` lines in the window."""
    connections, up, down = [], [], []
    for lines in windows:
        peers = {}
        for line in lines:
            if "peer" in line:
                peers.setdefault(line["peer"], []).append(line)
        connections.append(sum(1 for ls in peers.values() if ls[-1].get("state") == "connected"))
        up.append(sum(statistics.mean(l.get("kbps_out", 0) for l in ls) for ls in peers.values()))
        down.append(sum(statistics.mean(l.get("kbps_in", 0) for l in ls) for ls in peers.values()))
    return statistics.median(connections), statistics.median(up), statistics.median(down)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", default="2,4,6,8")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=18791)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    logs = tempfile.mkdtemp(prefix="meshgate-bench-hub-")
    rows = []
    for n in [int(x) for x in args.participants.split(",")]:
        for kind in ["mesh", "hub"]:
            result = measure(kind, n, args, logs)
            rows.append((n, kind, result))
            print(f"N={n} {kind}: {result}", file=sys.stderr, flush=True)
    lines = ["| N | room | connections each | upload each (kbit/s) | download each (kbit/s) | a participant's CPU (cores) | server CPU (cores) | server memory (MiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for n, kind, result in rows:
        if result is None:
            lines.append(f"| {n} | {kind} | not every participant had its first frames within 90 s | | | | | |")
            continue
        server_cores, memory, participant_cores, (connections, up, down) = result
        lines.append(f"| {n} | {kind} | {connections:g} | {up:.0f} | {down:.0f} | {participant_cores:.2f} | {server_cores:.2f} | {memory:.0f} |")
    with open(args.output, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"logs: {logs}", file=sys.stderr)


if __name__ == "__main__":
    main()
