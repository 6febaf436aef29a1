#!/usr/bin/env python3
"""Load check of `forger serve`: render requests (GET /api/render, a different seed's latent
each time, so nothing is served from a cache) from N client threads on loopback, each with
its own keep-alive connection, for a fixed time per model. Prints requests/s, p50/p99
latency, errors (anything but 200) and the server's RSS before and after.

    python3 Tools/serve_load.py --forger .build/release/forger --seconds 30 --concurrency 8 1
"""
import argparse
import base64
import http.client
import json
import os
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import rss_kb, start_server, stop  # noqa: E402


def latents(host, port, model, count):
    c = http.client.HTTPConnection(host, port)
    out = []
    for seed in range(count):
        c.request("GET", f"/api/latent?model={model}&seed={seed}")
        out.append(urllib.parse.quote(json.loads(c.getresponse().read())["latent"], safe=""))
    c.close()
    return out


def run(host, port, model, pool, concurrency, seconds):
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(k):
        c = http.client.HTTPConnection(host, port)
        mine, i = [], k
        while time.perf_counter() < deadline:
            z = pool[i % len(pool)]
            i += concurrency
            t = time.perf_counter()
            try:
                c.request("GET", f"/api/render?model={model}&latent={z}&scale=1")
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                ok = False
                c.close()
                c = http.client.HTTPConnection(host, port)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return len(latencies) / elapsed, pct(0.5), pct(0.99), errors[0], len(latencies)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--forger", default=".build/release/forger")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--concurrency", type=int, nargs="+", default=[8, 1])
    p.add_argument("--models", nargs="+", default=["mnist", "faces64"])
    a = p.parse_args()
    proc, base = start_server(a.forger, [f"Models/{m}" for m in a.models])
    u = urllib.parse.urlparse(base)
    try:
        print("| model | in flight | requests/s | p50 ms | p99 ms | errors | requests | RSS before | RSS after |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model in a.models:
            pool = latents(u.hostname, u.port, model, 256)
            run(u.hostname, u.port, model, pool, 2, 2)      # warm up
            for n in a.concurrency:
                before = rss_kb(proc.pid)
                rps, p50, p99, errors, count = run(u.hostname, u.port, model, pool, n, a.seconds)
                after = rss_kb(proc.pid)
                print(f"| {model} | {n} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {errors} | {count} | "
                      f"{before / 1024:.0f} MB | {after / 1024:.0f} MB |", flush=True)
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
