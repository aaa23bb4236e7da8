"""Soak (run by scripts/soak inside a loopback-only namespace).

One MeshGate sender (`--pipeline bars`, `--encode once`) and N receive-only gateways
(separate processes) stay in one call for the whole run. Every `--every` seconds it samples
the sender's and the receivers' resident memory, the sender's CPU, the round-trip time the
sender measures to each receiver (RTCP), how far behind the sender's camera each receiver
gets its video (`latency_ms`: capture, encoding, network, jitterbuffer, from the capture
time in the sender's RTCP reports; one clock, as all run on this machine) and the frames
each receiver unpacked. Prints one row per sample, then what grew from the first sample
after warm-up to the last.
"""
import argparse, os, signal, statistics, subprocess, sys, tempfile, time
from procstats import StatsFile, cpu_seconds

MESHGATE = ".build/release/meshgate"


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def start(argv, logs, name):
    stats = os.path.join(logs, name + ".stats")
    process = subprocess.Popen(argv, stdout=open(stats, "w"), stderr=open(os.path.join(logs, name + ".log"), "w"),
                               start_new_session=True)
    return process, StatsFile(stats)


def median(values):
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=60, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first sample")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--port", type=int, default=18890)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    logs = tempfile.mkdtemp(prefix="meshgate-soak-")
    url = f"ws://127.0.0.1:{args.port}/room/soak"
    common = ["--server", url, "--ice-address", "127.0.0.1", "--stats", "5", "--log-level", "info"]
    server = subprocess.Popen([MESHGATE, "serve", "--host", "127.0.0.1", "--port", str(args.port), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(logs, "server.log"), "w"), start_new_session=True)
    time.sleep(1)
    sender, sender_stats = start([MESHGATE, "join", "--id", "sender", "--pipeline", "bars", "--size", args.size, "--fps", "30"] + common,
                                 logs, "sender")
    receivers = [start([MESHGATE, "join", "--id", f"r{i}", "--video", "none", "--audio", "none"] + common, logs, f"r{i}")
                 for i in range(args.peers)]
    processes = [server, sender] + [p for p, _ in receivers]
    rows = []
    started = time.monotonic()
    try:
        time.sleep(args.warmup)
        sender_stats.new_lines()   # what came before the first sample is warm-up
        frames = {}
        for i, (_, stats) in enumerate(receivers):
            counts = [line["frames_in"] for line in stats.new_lines() if line.get("peer") == "sender"]
            if counts:
                frames[i] = counts[-1]
        cpu_before, at = cpu_seconds([sender.pid]), time.monotonic()
        deadline = at + args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(min(args.every, max(0.0, deadline - time.monotonic())))
            if any(p.poll() is not None for p in processes):
                print("a process ended before the soak did; logs: " + logs, file=sys.stderr)
                break
            now, cpu = time.monotonic(), cpu_seconds([sender.pid])
            sent = sender_stats.new_lines()
            rtts = [line["rtt_ms"] for line in sent if "rtt_ms" in line]
            latencies, rates, lost = [], [], 0
            for i, (process, stats) in enumerate(receivers):
                lines = [line for line in stats.new_lines() if line.get("peer") == "sender"]
                latencies += [line["latency_ms"] for line in lines if "latency_ms" in line]
                if lines:
                    total = lines[-1]["frames_in"]
                    if i in frames:
                        rates.append((total - frames[i]) / (now - at))
                    frames[i] = total
                    lost = max(lost, lines[-1].get("packets_lost", 0))
            receiver_rss = [m for m in (rss_mib(p.pid) for p, _ in receivers) if m is not None]
            row = {"minute": (now - started) / 60, "sender_rss": rss_mib(sender.pid), "receiver_rss": median(receiver_rss),
                   "cpu": (cpu - cpu_before) / (now - at), "rtt": median(rtts), "latency": median(latencies),
                   "latency_max": max(latencies) if latencies else None, "fps": min(rates) if rates else None, "lost": lost}
            rows.append(row)
            print(format_row(row), file=sys.stderr, flush=True)
            cpu_before, at = cpu, now
    finally:
        for p in processes:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    with open(args.output, "w") as out:
        out.write(report(rows))
    print(f"logs: {logs}", file=sys.stderr)


def show(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


def format_row(row):
    return (f"| {row['minute']:.1f} | {show(row['sender_rss'], 1)} | {show(row['receiver_rss'], 1)} | {show(row['cpu'], 3)} "
            f"| {show(row['rtt'], 1)} | {show(row['latency'])} | {show(row['latency_max'])} | {show(row['fps'], 1)} | {row['lost']} |")


def report(rows):
    lines = ["| minute | sender RSS (MiB) | receiver RSS, median (MiB) | sender CPU (cores) | RTT, median (ms) "
             "| latency, median (ms) | latency, max (ms) | frames/s, slowest receiver | packets lost, most |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [format_row(row) for row in rows]
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        def change(key, unit, digits=1):
            if first[key] is None or last[key] is None:
                return "-"
            return f"{first[key]:.{digits}f} → {last[key]:.{digits}f} {unit} ({last[key] - first[key]:+.{digits}f})"
        lines += ["", f"From the first sample to the last: sender RSS {change('sender_rss', 'MiB')}, receiver RSS "
                  f"{change('receiver_rss', 'MiB')}, sender CPU {change('cpu', 'cores', 3)}, RTT {change('rtt', 'ms', 1)}, "
                  f"latency {change('latency', 'ms', 0)}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
