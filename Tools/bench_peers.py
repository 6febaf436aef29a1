#!/usr/bin/python3
"""Times the benchmark's peers on the models Tools/bench_models.py wrote: PyTorch eager and
onnxruntime (when importable), images per second per batch size, best of several runs, plus
the cold start of each peer (a fresh Python process to its first PNG written).

Run: python Tools/bench_peers.py MODELS_DIR OUT.json [--batches 1,16,64,256] [--threads 1,2]
Each figure is the best over the thread counts given (a peer's best setting: on a loaded or
small machine one thread can beat two). Writes {"peers": {name: {"version", "rates": {model:
{batch: images/s}}, "threads": {model: {batch: n}}, "cold_start_s"}}, "missing": {name: why}}
for `forger bench --peers OUT.json` to print beside Forger's figures.
"""
import json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def best_rate(run, batch, seconds=0.4, repeats=3):
    """Images per second: warm up, then the best of `repeats` timed windows of >= `seconds`."""
    run(); run()
    best = 0.0
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            run(); n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds and n >= 2:
                break
        best = max(best, n * batch / dt)
    return best


COLD_TORCH = r"""
import sys, zlib, struct, torch, numpy as np
sys.path.insert(0, sys.argv[2]); import bench_models
torch.set_num_threads(int(sys.argv[3]))
m, man, view = bench_models.build("a"); m.load_state_dict(torch.load(sys.argv[1] + "/state.pt"))
with torch.no_grad(): y = m(torch.rand(1, 16)).numpy()[0, 0]
"""

COLD_ORT = r"""
import sys, zlib, struct, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[3])
s = ort.InferenceSession(sys.argv[1] + "/model.onnx", o, providers=["CPUExecutionProvider"])
y = s.run(None, {"z": np.random.rand(1, 16).astype(np.float32)})[0][0, 0]
"""

WRITE_PNG = r"""
p = (np.clip(y, 0, 1) * 255).astype(np.uint8); h, w = p.shape
raw = b"".join(b"\x00" + p[i].tobytes() for i in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[4], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
"""


def cold_start(script, models, threads, out_png, repeats=3):
    """Best wall time of a fresh interpreter running `script` to its PNG."""
    best = None
    for _ in range(repeats):
        if os.path.exists(out_png):
            os.remove(out_png)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", script + WRITE_PNG, os.path.join(models, "a"),
                        os.path.dirname(os.path.abspath(__file__)), str(threads), out_png], check=True)
        dt = time.perf_counter() - t0
        if os.path.exists(out_png):
            best = dt if best is None else min(best, dt)
    return best


def main():
    args = sys.argv[1:]
    models, out = args[0], args[1]
    batches = [1, 16, 64, 256]
    threads = [1, 2]
    if "--batches" in args:
        batches = [int(b) for b in args[args.index("--batches") + 1].split(",")]
    if "--threads" in args:
        threads = [int(t) for t in args[args.index("--threads") + 1].split(",")]
    names = ["a", "b", "c"]
    result = {"peers": {}, "missing": {}, "threads": threads}
    import numpy as np
    png = os.path.join(models, "cold.png")

    try:
        import torch
        import bench_models
        rates, best_threads = {}, {}
        for name in names:
            m, manifest, view = bench_models.build(name)
            m.load_state_dict(torch.load(os.path.join(models, name, "state.pt")))
            rates[name], best_threads[name] = {}, {}
            for b in batches:
                z = torch.randn(b, manifest["latent"]["size"]).reshape(b, *view)
                def run():
                    with torch.no_grad():
                        m(z)
                for t in threads:
                    torch.set_num_threads(t)
                    r = best_rate(run, b)
                    print("pytorch", name, b, t, "threads: %.0f img/s" % r, file=sys.stderr)
                    if r > rates[name].get(str(b), 0):
                        rates[name][str(b)], best_threads[name][str(b)] = r, t
        result["peers"]["pytorch"] = {"version": "PyTorch %s eager, best of %s threads" % (torch.__version__, threads),
                                      "rates": rates, "threads": best_threads,
                                      "cold_start_s": cold_start(COLD_TORCH, models, max(threads), png)}
    except ImportError as e:
        result["missing"]["pytorch"] = str(e)

    try:
        import onnxruntime as ort
        rates, best_threads = {}, {}
        for name in names:
            rates[name], best_threads[name] = {}, {}
            for t in threads:
                o = ort.SessionOptions()
                o.intra_op_num_threads = t
                s = ort.InferenceSession(os.path.join(models, name, "model.onnx"), o, providers=["CPUExecutionProvider"])
                shape = s.get_inputs()[0].shape
                for b in batches:
                    z = np.random.randn(b, *[int(d) for d in shape[1:]]).astype(np.float32)
                    r = best_rate(lambda: s.run(None, {"z": z}), b)
                    print("onnxruntime", name, b, t, "threads: %.0f img/s" % r, file=sys.stderr)
                    if r > rates[name].get(str(b), 0):
                        rates[name][str(b)], best_threads[name][str(b)] = r, t
        result["peers"]["onnxruntime"] = {"version": "onnxruntime %s, best of %s intra-op threads" % (ort.__version__, threads),
                                          "rates": rates, "threads": best_threads,
                                          "cold_start_s": cold_start(COLD_ORT, models, max(threads), png)}
    except ImportError as e:
        result["missing"]["onnxruntime"] = "%s (make .bench/venv: Tools/bench.sh does)" % e

    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
