"""Starts `forger serve` on a free loopback port for the explorer's checks (browser test, load check)."""
import os
import re
import subprocess
import threading


def start_server(forger, models, exports=None, extra=()):
    """Runs `forger serve --port 0` and returns (process, base URL) once it listens."""
    args = [forger, "serve", "--port", "0", "--models", *models]
    if exports:
        args += ["--exports", exports]
    args += list(extra)
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1)
    proc.wait()
    raise SystemExit("forger serve did not start:\n" + "".join(lines))


def rss_kb(pid):
    """Resident memory of a process, from /proc/PID/status (VmRSS), in KB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
