#!/usr/bin/python3
"""Times the benchmark's peers on the models Tools/bench_models.py wrote: PyTorch eager and
onnxruntime (when importable), images per second per batch size, best of several runs, plus
the cold start of each peer (a fresh Python process to its first PNG written).

Run: python Tools/bench_peers.py MODELS_DIR OUT.json [--batches 1,16,64,256] [--threads 1,2]
                                  [--training-batch 64 | --no-training | --training-only]
                                  [--no-inference]
     python Tools/bench_peers.py --serve MODELS_DIR

--serve times single windows on request, so that `forger bench --peer-server` can alternate
them with its own (a machine whose speed drifts then moves both alike): it prints one JSON line
{"peers": {name: version}, "missing": {name: why}, "openblas_coretype": the kernels the training
processes get}, then answers each line "window PEER MODEL BATCH THREADS SECONDS" with the images
per second of one window of at least SECONDS (after two
warm-up runs the first time that setting is asked for), and each line "train SETTING BATCH
SECONDS" (SETTING "1", "default" or a thread count, as the training row's) with "IT/S THREADS"
for one window of PyTorch's GAN training step, each setting in a process of its own; or with a
line starting "error ".
--no-inference leaves the inference rates out of OUT.json (cold start and training only).
Each figure is the best over the thread counts given (a peer's best setting: on a loaded or
small machine one thread can beat two). Writes {"peers": {name: {"version", "rates": {model:
{batch: images/s}}, "threads": {model: {batch: n}}, "cold_start_s"}}, "missing": {name: why}}
for `forger bench --peers OUT.json` to print beside Forger's figures.

PyTorch also gets the GAN training row: iterations per second of bench_models.training_pair
(generator C and a small conv D), batch 64, Adam (lr 2e-4, betas 0.5/0.999), one D step (a
real batch, then a fake batch made without a graph) and one G step (fresh latents) per
iteration, non-saturating loss (BCE with logits), as Forger's GANTrainer.trainStep does. The
real batch is a fixed tensor in [-1, 1), the same values Forger's FixedRealBatch makes. OpenBLAS
gets the kernels Forger selects where Debian's build falls back to generic ones. Each
setting runs in its own process: "1 thread" (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1 and
torch.set_num_threads(1)), "default" (no thread variables, PyTorch's own choice), and, where
the default uses fewer threads than there are cores, all cores. pytorch.training in the JSON
holds {"batch", "settings": [{"label", "threads", "rate"}], "openblas_coretype"}.
"""
import json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def window_rate(run, seconds):
    """Calls of `run` per second over one window of at least `seconds` and two calls."""
    n, t0 = 0, time.perf_counter()
    while True:
        run(); n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 2:
            return n / dt


def best_rate(run, batch, seconds=0.4, repeats=3):
    """Images per second: warm up, then the best of `repeats` timed windows of >= `seconds`."""
    run(); run()
    return max(window_rate(run, seconds) * batch for _ in range(repeats))


def fixed_real_batch(n, shape=(1, 28, 28)):
    """Value i is ((i * 2654435761) mod 2^32) / 2^32 * 2 - 1 in float32: Forger's FixedRealBatch."""
    import numpy as np
    count = n * int(np.prod(shape))
    u = (np.arange(count, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(1 << 32)
    return (u.astype(np.float64) / 2.0 ** 32 * 2 - 1).astype(np.float32).reshape(n, *shape)


def training_rate(batch, seconds=1.0, repeats=3):
    """GAN training iterations per second in this process at its current thread setting."""
    return best_rate(training_step(batch), 1, seconds=seconds, repeats=repeats)


def training_step(batch):
    """One GAN training iteration (a function), at this process's thread setting."""
    import torch
    import torch.nn.functional as F
    import bench_models
    g, d = bench_models.training_pair()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.from_numpy(fixed_real_batch(batch))
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step():
        opt_d.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(d(real), ones).backward()
        with torch.no_grad():
            fake = g(torch.randn(batch, 100))
        F.binary_cross_entropy_with_logits(d(fake), zeros).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        d.requires_grad_(False)     # the G step needs only the gradient through D, as Forger's does
        F.binary_cross_entropy_with_logits(d(g(torch.randn(batch, 100))), ones).backward()
        d.requires_grad_(True)
        opt_g.step()

    return step


def training_server(setting, batch):
    """Runs in a fresh process (see PeerServer.train): prints {"threads"} as JSON, then answers each
    line "window SECONDS" with the iterations per second of one training window."""
    import torch
    if setting != "default":
        torch.set_num_threads(int(setting))
    print(json.dumps({"threads": torch.get_num_threads()}), flush=True)
    step = training_step(batch)
    step(); step()
    for line in sys.stdin:
        print("%.4f" % window_rate(step, float(line.split()[1])), flush=True)


def training_worker(setting, batch):
    """Runs in a fresh process (see training_settings): prints {"threads", "rate"} as JSON."""
    import torch
    if setting != "default":
        torch.set_num_threads(int(setting))
    threads = torch.get_num_threads()
    print(json.dumps({"threads": threads, "rate": training_rate(batch)}))


GENERIC_OPENBLAS = ("prescott", "core2", "penryn", "dunnington", "nehalem", "sandybridge", "unknown")


def openblas_coretype():
    """The OPENBLAS_CORETYPE Forger's Gemm.useSingleThreadedBLAS would pick, or None: Debian's
    OpenBLAS 0.3.21 falls back to SSE3 kernels on recent Xeons, which would slow PyTorch's
    BLAS-backed layers (linear, transposed conv) 4-8x; the peer gets the kernels the CPU runs."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return None
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        name = lib.openblas_get_corename().decode().lower()
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, AttributeError, StopIteration):
        return None
    if name not in GENERIC_OPENBLAS:
        return None
    if all(f in flags for f in ("avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd")):
        return "SkylakeX"
    if all(f in flags for f in ("avx2", "fma")):
        return "Haswell"
    return None


def training_env(setting, coretype):
    """The environment of a training process for `setting` ("1", "default" or a thread count)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    if setting == "1":
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def training_settings(batch):
    """The training row's figures at 1 thread, PyTorch's default, and all cores if the default uses fewer."""
    cores = os.cpu_count() or 1
    coretype = openblas_coretype()
    def run(setting):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--training-worker", setting, str(batch)],
                             env=training_env(setting, coretype), check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print("pytorch training batch", batch, setting, "(%d threads): %.2f it/s" % (r["threads"], r["rate"]), file=sys.stderr)
        return r
    one, default = run("1"), run("default")
    settings = [{"label": "1 thread", "threads": 1, "rate": one["rate"]},
                {"label": "default", "threads": default["threads"], "rate": default["rate"]}]
    if default["threads"] < cores:
        r = run(str(cores))
        settings.append({"label": "%d threads" % cores, "threads": r["threads"], "rate": r["rate"]})
    return {"batch": batch, "settings": settings, "openblas_coretype": coretype or os.environ.get("OPENBLAS_CORETYPE", "its own choice")}


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


class PeerServer:
    """The peers' sessions by (peer, model, threads), each timed one window at a time."""

    def __init__(self, models):
        self.models, self.runs, self.warm, self.versions, self.missing = models, {}, set(), {}, {}
        self.coretype = openblas_coretype()   # what the training processes get (None: their own)
        try:
            import torch
            import bench_models
            self.torch, self.bench_models = torch, bench_models
            self.versions["pytorch"] = "PyTorch %s eager" % torch.__version__
        except ImportError as e:
            self.missing["pytorch"] = str(e)
        try:
            import onnxruntime as ort
            self.ort = ort
            self.versions["onnxruntime"] = "onnxruntime %s" % ort.__version__
        except ImportError as e:
            self.missing["onnxruntime"] = "%s (make .bench/venv: Tools/bench.sh does)" % e

    def runner(self, peer, name, batch, threads):
        """A function running one batch of `name` on `peer` at `threads` threads."""
        import numpy as np
        key = (peer, name, batch, threads)
        if key in self.runs:
            return self.runs[key]
        if peer == "pytorch":
            torch = self.torch
            model_key = ("pytorch", name)
            if model_key not in self.runs:
                m, manifest, view = self.bench_models.build(name)
                m.load_state_dict(torch.load(os.path.join(self.models, name, "state.pt")))
                self.runs[model_key] = (m, manifest, view)
            m, manifest, view = self.runs[model_key]
            z = torch.randn(batch, manifest["latent"]["size"]).reshape(batch, *view)

            def run():
                torch.set_num_threads(threads)
                with torch.no_grad():
                    m(z)
        elif peer == "onnxruntime":
            session_key = ("onnxruntime", name, threads)
            if session_key not in self.runs:
                o = self.ort.SessionOptions()
                o.intra_op_num_threads = threads
                self.runs[session_key] = self.ort.InferenceSession(os.path.join(self.models, name, "model.onnx"), o,
                                                                   providers=["CPUExecutionProvider"])
            s = self.runs[session_key]
            shape = s.get_inputs()[0].shape
            z = np.random.randn(batch, *[int(d) for d in shape[1:]]).astype(np.float32)

            def run():
                s.run(None, {"z": z})
        else:
            raise ValueError("unknown peer %r (known: %s)" % (peer, ", ".join(sorted(self.versions))))
        self.runs[key] = run
        return run

    def train(self, setting, batch, seconds):
        """(iterations per second of one training window, threads) for PyTorch at `setting`, each
        setting in its own process (thread variables must be set before torch loads)."""
        if "pytorch" not in self.versions:
            raise ValueError("peer pytorch is missing: %s" % self.missing.get("pytorch", "unknown"))
        key = ("train", setting, batch)
        if key not in self.runs:
            child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--training-serve", setting, str(batch)],
                                     env=training_env(setting, self.coretype), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
            hello = child.stdout.readline()
            if not hello:
                raise ValueError("the training process for setting %s did not start" % setting)
            self.runs[key] = (child, json.loads(hello)["threads"])
        child, threads = self.runs[key]
        child.stdin.write("window %s\n" % seconds)
        child.stdin.flush()
        reply = child.stdout.readline()
        if not reply:
            raise ValueError("the training process for setting %s stopped" % setting)
        return float(reply), threads

    def window(self, peer, name, batch, threads, seconds):
        if peer not in self.versions:
            raise ValueError("peer %s is missing: %s" % (peer, self.missing.get(peer, "unknown")))
        run = self.runner(peer, name, batch, threads)
        if (peer, name, batch, threads) not in self.warm:
            run(); run()
            self.warm.add((peer, name, batch, threads))
        return window_rate(run, seconds) * batch


def serve(models):
    server = PeerServer(models)
    coretype = server.coretype or os.environ.get("OPENBLAS_CORETYPE", "its own choice")
    print(json.dumps({"peers": server.versions, "missing": server.missing, "openblas_coretype": coretype}), flush=True)
    for line in sys.stdin:
        words = line.split()
        try:
            if len(words) == 4 and words[0] == "train":
                rate, threads = server.train(words[1], int(words[2]), float(words[3]))
                print("%.4f %d" % (rate, threads), flush=True)
                continue
            if len(words) != 6 or words[0] != "window":
                raise ValueError("expected 'window PEER MODEL BATCH THREADS SECONDS' or 'train SETTING BATCH SECONDS', "
                                 "got %r" % line.strip())
            rate = server.window(words[1], words[2], int(words[3]), int(words[4]), float(words[5]))
            print("%.3f" % rate, flush=True)
        except Exception as e:   # the client prints the reason and carries on without that figure
            print("error %s" % str(e).replace("\n", " "), flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--training-worker":
        training_worker(args[1], int(args[2]))
        return
    if args and args[0] == "--training-serve":
        training_server(args[1], int(args[2]))
        return
    if args and args[0] == "--serve":
        if len(args) != 2:
            sys.exit("usage: bench_peers.py --serve MODELS_DIR")
        serve(args[1])
        return
    models, out = args[0], args[1]
    batches = [1, 16, 64, 256]
    threads = [1, 2]
    if "--batches" in args:
        batches = [int(b) for b in args[args.index("--batches") + 1].split(",")]
    if "--threads" in args:
        threads = [int(t) for t in args[args.index("--threads") + 1].split(",")]
    training_only = "--training-only" in args
    no_inference = training_only or "--no-inference" in args
    training_batch = None if "--no-training" in args else 64
    if "--training-batch" in args:
        training_batch = int(args[args.index("--training-batch") + 1])
    names = [] if no_inference else ["a", "b", "c"]
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
                                      "cold_start_s": None if training_only else cold_start(COLD_TORCH, models, max(threads), png)}
        if training_batch:
            try:
                result["peers"]["pytorch"]["training"] = training_settings(training_batch)
            except (subprocess.CalledProcessError, ValueError) as e:
                why = e.stderr.strip().splitlines()[-1] if getattr(e, "stderr", None) else str(e)
                result["missing"]["pytorch training"] = why
                print("pytorch training failed:", why, file=sys.stderr)
    except ImportError as e:
        result["missing"]["pytorch"] = str(e)

    try:
        if training_only:
            raise ImportError("--training-only: inference peers not timed")
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
