"""What the benchmarks read of the processes they run: CPU time from /proc, and the
`--stats` lines a gateway writes, as they come; and how they find and end them."""
import json, os, signal, subprocess, time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User and system CPU time of the processes, in seconds (those gone count 0)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
        except OSError:
            pass
    return total / TICKS


class StatsFile:
    """A gateway's `--stats` lines, read as they come: each call gives the whole lines
    written since the previous one."""
    def __init__(self, path):
        self.path, self.offset = path, 0

    def new_lines(self):
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
        complete = text[:text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        lines = []
        for line in complete.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
        return lines

def tree(pid):
    """pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found

def stop(*processes):
    """SIGTERM to each one's process group, all at once; SIGKILL to what has not ended in 10 s."""
    for p in processes:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
