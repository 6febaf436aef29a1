#!/usr/bin/python3
"""Checks that models exported by `forger export` load back into PyTorch and give Forger's outputs.

For each model directory given, it runs (with the built forger binary)
    forger export DIR -o <tmp>/export.safetensors
    forger sample DIR --latents <tmp>/z.npy [--class K] --out-npy <tmp>/forger.npy
then builds a torch module from DIR/model.json whose submodules sit at the tensors' own dotted
names (a layer naming "main.0.weight" becomes nn.ConvTranspose2d at "main.0"), loads the export
with load_state_dict(strict=True) — so names, shapes and the batch-norm counters must be exactly
what a state_dict holds — runs it in eval mode and prints the largest difference. With
--pretrained FOLDER it also loads the exports of the three real models into their authors'
module classes (Tools/pretrained_reference.py), strict.

No `safetensors` package is needed: the file is read with the dozen lines below.
Run: /usr/bin/python3 Tools/check_export_roundtrip.py [--forger .build/debug/forger] DIR...
Exit status 1 if any difference exceeds 1e-4.
"""
import argparse, json, os, struct, subprocess, sys, tempfile
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "F16": np.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")).reshape(e["shape"])
        out[name] = torch.from_numpy(a.astype(a.dtype.newbyteorder("=")).copy())
    return out


class Unsupported(Exception):
    pass


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


class FromManifest(nn.Module):
    """The generator a Forger model.json describes, with parameters under their tensor names."""
    def __init__(self, manifest):
        super().__init__()
        self.manifest, self.steps = manifest, []
        c = manifest.get("conditioning")
        if c:
            self._place(c["embedding"], nn.Embedding(c["classes"], 1))
        for spec in manifest["layers"]:
            t = spec["type"]
            if t == "linear":
                m = nn.Linear(spec["in"], spec["out"], bias=spec.get("bias") is not None)
                self.steps.append(self._place(spec["weight"], m))
            elif t in ("conv2d", "convtranspose2d"):
                p = spec.get("padding", 0)
                if isinstance(p, list) and len(p) == 4:
                    raise Unsupported("[top, bottom, left, right] padding has no nn.Conv2d equivalent")
                cls = nn.Conv2d if t == "conv2d" else nn.ConvTranspose2d
                kw = {} if t == "conv2d" else {"output_padding": pair(spec.get("output_padding", 0))}
                m = cls(spec["in"], spec["out"], pair(spec["kernel"]), pair(spec.get("stride", 1)), pair(p),
                        bias=spec.get("bias") is not None, **kw)
                self.steps.append(self._place(spec["weight"], m))
            elif t == "batchnorm":
                m = nn.BatchNorm2d(spec["features"], eps=spec.get("eps", 1e-5), affine=spec.get("weight") is not None)
                self.steps.append(self._place(spec["running_mean"], m))
            elif t == "upsample":
                self.steps.append(nn.Upsample(scale_factor=spec["scale"]))
            elif t == "reshape":
                shape = spec["shape"]
                self.steps.append(lambda x, s=shape: x.reshape([x.shape[0]] + s))
            elif t == "flatten":
                self.steps.append(lambda x: x.reshape(x.shape[0], -1))
            else:
                self.steps.append({"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda x: x,
                                   "leakyrelu": lambda x, s=spec.get("slope", 0.01): F.leaky_relu(x, s)}[t])

    def _place(self, tensor_name, module):
        """Puts `module` at the dotted path before the tensor's last component."""
        *path, _ = tensor_name.split(".")
        parent = self
        for part in path[:-1]:
            if not hasattr(parent, part):
                parent.add_module(part, nn.Module())
            parent = getattr(parent, part)
        parent.add_module(path[-1], module)
        return module

    def resize_embedding(self, state):
        c = self.manifest.get("conditioning")
        if c:
            *path, _ = c["embedding"].split(".")
            emb = self.get_submodule(".".join(path))
            emb.weight = nn.Parameter(torch.empty_like(state[c["embedding"]]))

    def forward(self, z, labels=None):
        m, x = self.manifest, z
        c = m.get("conditioning")
        if c:
            *path, _ = c["embedding"].split(".")
            e = self.get_submodule(".".join(path))(labels)
            x = {"concat-latent-first": lambda: torch.cat((z, e), 1), "concat-label-first": lambda: torch.cat((e, z), 1),
                 "multiply": lambda: z * e}[c["join"]]()
        x = x.reshape([x.shape[0]] + m["latent"].get("shape", [x.shape[1]]))
        for step in self.steps:
            if isinstance(step, nn.BatchNorm2d) and x.dim() == 2:
                x = F.batch_norm(x, step.running_mean, step.running_var, step.weight, step.bias, False, 0.0, step.eps)
            else:
                x = step(x)
        return x


def check(forger, directory, work, pretrained):
    manifest = json.load(open(os.path.join(directory, "model.json")))
    name = manifest["name"]
    export = os.path.join(work, name + ".safetensors")
    subprocess.run([forger, "export", directory, "-o", export, "--force", "-q"], check=True)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, manifest["latent"]["size"])).astype(np.float32)
    np.save(os.path.join(work, "z.npy"), z)
    label = 1 if manifest.get("conditioning") else None
    out = os.path.join(work, name + "_forger.npy")
    subprocess.run([forger, "sample", directory, "--latents", os.path.join(work, "z.npy"), "--out-npy", out, "-q"]
                   + (["--class", str(label)] if label is not None else []), check=True)
    ours = np.load(out)
    state = load_safetensors(export)
    module = FromManifest(manifest)
    module.resize_embedding(state)
    module.load_state_dict(state, strict=True)
    labels = torch.full((6,), label, dtype=torch.long) if label is not None else None
    with torch.no_grad():
        theirs = module.eval()(torch.from_numpy(z), labels).numpy()
    worst = float(np.abs(ours - theirs).max())
    print("%-28s %3d tensors  strict load ok  max |forger - torch| = %.3g" % (name, len(state), worst))
    if pretrained and name in pretrained:
        cls = pretrained[name]()
        cls.load_state_dict(state, strict=True)
        with torch.no_grad():
            zt = torch.from_numpy(z)
            orig = (cls.eval()(zt, labels) if labels is not None else cls.eval()(zt)).numpy()
        w2 = float(np.abs(ours - orig).max())
        print("%-28s authors' module: strict load ok  max |forger - torch| = %.3g" % ("", w2))
        worst = max(worst, w2)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--forger", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "debug", "forger"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pretrained_reference as ref
    pretrained = {"csinva-mnist-mlp": ref.CsinvaMLP, "celeba32-dcgan": ref.FletcherDCGAN, "mnist-cond-wgangp": ref.HayatoCond}
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        worst = 0.0
        for d in args.dirs:
            try:
                worst = max(worst, check(args.forger, d, work, pretrained))
            except Unsupported as e:
                print("%-28s skipped: %s" % (os.path.basename(d.rstrip("/")), e))
    print("largest difference: %.3g" % worst)
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
