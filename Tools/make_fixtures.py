#!/usr/bin/python3
"""Builds the engine's parity fixtures with PyTorch (Debian's python3-torch).

For each small random model it writes, under Tests/NNTests/Fixtures/<name>/:
  model.json           Forger's manifest
  weights.safetensors  the state_dict, float32
  input.npy            latents (N, Z), float32
  expected.npy         PyTorch's outputs (N, C, H, W), float32, model in eval mode
  expected.json        multiply-adds and parameter counts counted by forward hooks
and Tests/NNTests/Fixtures/dcgan_full/model.json (pytorch/examples netG, nz=100, ngf=64,
manifest only: its weights are 14 MB) with its expected.json.

Run: /usr/bin/python3 Tools/make_fixtures.py   (deterministic: fixed seeds)
"""
import json, os, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NNTests", "Fixtures")


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_model(d, model, manifest):
    """Writes a Forger model directory: model.json and the state_dict as weights.safetensors."""
    os.makedirs(d, exist_ok=True)
    sd = {k: v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    write_safetensors(os.path.join(d, "weights.safetensors"), sd)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


class AsymConv2d(nn.Module):
    """conv2d with [top, bottom, left, right] zero padding."""
    def __init__(self, cin, cout, k, stride, pad, bias=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, bias=bias)
        self.pad = pad

    def forward(self, x):
        t, b, l, r = self.pad
        return self.conv(F.pad(x, (l, r, t, b)))


class AsymConvT2d(nn.Module):
    """conv-transpose2d whose full output is cropped [top, bottom, left, right], then grown by
    output_padding rows/cols at the bottom/right (zeros plus bias where nothing lands)."""
    def __init__(self, cin, cout, k, stride, crop, output_padding=(0, 0), bias=True):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, k, stride, 0, bias=False)
        self.bias = nn.Parameter(torch.randn(cout) * 0.1) if bias else None
        self.crop, self.op = crop, output_padding

    def forward(self, x):
        full = self.conv(x)
        t, b, l, r = self.crop
        H, W = full.shape[2], full.shape[3]
        oh, ow = H - t - b + self.op[0], W - l - r + self.op[1]
        full = F.pad(full, (0, max(0, l + ow - W), 0, max(0, t + oh - H)))
        out = full[:, :, t:t + oh, l:l + ow]
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


class View(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def randomise_bn(model):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def count(model, z, latent_shape):
    macs = [0]
    def hook(m, inp, out):
        x = inp[0]
        if isinstance(m, nn.Linear):
            macs[0] += m.in_features * m.out_features
        elif isinstance(m, nn.Conv2d):
            macs[0] += out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            macs[0] += x[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(z[:1].reshape(1, *latent_shape))
    for h in hs:
        h.remove()
    params = sum(p.numel() for n, p in model.state_dict().items() if "num_batches" not in n and "running" not in n)
    return {"multiply_adds": macs[0], "parameters": params}


def emit(name, model, manifest, latent_shape, n=4, uniform=None, seed=0):
    torch.manual_seed(seed + 1000)
    randomise_bn(model)
    model.eval()
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    size = manifest["latent"]["size"]
    g = torch.Generator().manual_seed(seed)
    if uniform:
        z = torch.rand(n, size, generator=g) * (uniform[1] - uniform[0]) + uniform[0]
    else:
        z = torch.randn(n, size, generator=g)
    with torch.no_grad():
        y = model(z.reshape(n, *latent_shape))
    sd = {k: v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    write_safetensors(os.path.join(d, "weights.safetensors"), sd)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    write_npy(os.path.join(d, "input.npy"), z.numpy())
    write_npy(os.path.join(d, "expected.npy"), y.numpy())
    expected = count(model, z, latent_shape)
    expected["output_shape"] = list(y.shape[1:])
    expected["reference"] = "PyTorch %s, eval mode, float32" % torch.__version__
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(name, "params", expected["parameters"], "macs", expected["multiply_adds"], "out", list(y.shape))


def bn(name, features, eps=1e-5):
    return {"type": "batchnorm", "features": features, "eps": eps, "weight": name + ".weight", "bias": name + ".bias",
            "running_mean": name + ".running_mean", "running_var": name + ".running_var"}


def mlp():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 48), nn.LeakyReLU(0.2),
                      nn.Linear(48, 32), nn.Identity(), View(2, 4, 4), nn.Flatten(), nn.Linear(32, 48, bias=False),
                      View(3, 4, 4), nn.Sigmoid())
    manifest = {"format": "forger-model", "version": 1, "name": "mlp", "description": "parity fixture: dense layers",
                "latent": {"size": 8, "distribution": {"kind": "normal"}},
                "output": {"channels": 3, "height": 4, "width": 4, "range": [0, 1]},
                "layers": [{"type": "linear", "in": 8, "out": 32, "weight": "0.weight", "bias": "0.bias"}, bn("1", 32),
                           {"type": "relu"},
                           {"type": "linear", "in": 32, "out": 48, "weight": "3.weight", "bias": "3.bias"},
                           {"type": "leakyrelu", "slope": 0.2},
                           {"type": "linear", "in": 48, "out": 32, "weight": "5.weight", "bias": "5.bias"},
                           {"type": "identity"}, {"type": "reshape", "shape": [2, 4, 4]}, {"type": "flatten"},
                           {"type": "linear", "in": 32, "out": 48, "weight": "9.weight"},
                           {"type": "reshape", "shape": [3, -1, 4]}, {"type": "sigmoid"}],
                "notes": "an unknown key that loading must keep and ignore"}
    emit("mlp", m, manifest, [8])


def theano_mnist():
    """The 2016 post's generator shape (dense, reshape, nearest upsampling, 3x3 convs with
    padding 2, batch norm, sigmoid) with small channel counts."""
    torch.manual_seed(2)
    c = [16, 8, 8, 4]
    m = nn.Sequential(nn.Linear(16, 16 * 4 * 4), nn.BatchNorm1d(256), nn.ReLU(), View(16, 4, 4),
                      nn.Upsample(scale_factor=2), nn.Conv2d(16, c[0], 3, padding=2), nn.BatchNorm2d(c[0]), nn.ReLU(),
                      nn.Upsample(scale_factor=2), nn.Conv2d(c[0], c[1], 3, padding=2), nn.BatchNorm2d(c[1]), nn.ReLU(),
                      nn.Conv2d(c[1], c[2], 3, padding=2), nn.BatchNorm2d(c[2]), nn.ReLU(),
                      nn.Conv2d(c[2], c[3], 3, padding=2), nn.BatchNorm2d(c[3]), nn.ReLU(),
                      nn.Conv2d(c[3], 1, 3, padding=2), nn.Sigmoid())
    layers = [{"type": "linear", "in": 16, "out": 256, "weight": "0.weight", "bias": "0.bias"}, bn("1", 256), {"type": "relu"},
              {"type": "reshape", "shape": [16, 4, 4]}, {"type": "upsample", "scale": 2}]
    idx, cin = 5, 16
    for i, cout in enumerate(c + [1]):
        layers.append({"type": "conv2d", "in": cin, "out": cout, "kernel": 3, "stride": 1, "padding": 2,
                       "weight": "%d.weight" % idx, "bias": "%d.bias" % idx})
        if cout == 1:
            layers.append({"type": "sigmoid"})
            break
        layers += [bn(str(idx + 1), cout), {"type": "relu"}]
        idx += 3
        if i == 0:
            layers.append({"type": "upsample", "scale": 2})
            idx += 1
        cin = cout
    manifest = {"format": "forger-model", "version": 1, "name": "theano-mnist", "description": "parity fixture: the 2016 post's stack",
                "latent": {"size": 16, "distribution": {"kind": "uniform", "low": 0, "high": 1}},
                "output": {"channels": 1, "height": 28, "width": 28, "range": [0, 1]}, "layers": layers}
    emit("theano_mnist", m, manifest, [16], uniform=(0, 1))


def dcgan_layers(nz, ngf, nc):
    layers, cin, idx = [], nz, 0
    for i, cout in enumerate([ngf * 8, ngf * 4, ngf * 2, ngf, nc]):
        first = i == 0
        layers.append({"type": "convtranspose2d", "in": cin, "out": cout, "kernel": 4, "stride": 1 if first else 2,
                       "padding": 0 if first else 1, "output_padding": 0, "weight": "main.%d.weight" % idx, "bias": None})
        if cout == nc:
            layers.append({"type": "tanh"})
            break
        layers += [bn("main.%d" % (idx + 1), cout), {"type": "relu"}]
        idx += 3
        cin = cout
    return layers


class DCGAN(nn.Module):
    """pytorch/examples dcgan netG."""
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


def dcgan_manifest(name, nz, ngf, nc):
    return {"format": "forger-model", "version": 1, "name": name, "description": "pytorch/examples DCGAN generator",
            "latent": {"size": nz, "shape": [nz, 1, 1], "distribution": {"kind": "normal"}},
            "output": {"channels": nc, "height": 64, "width": 64, "range": [-1, 1]}, "layers": dcgan_layers(nz, ngf, nc)}


def dcgan_small():
    torch.manual_seed(3)
    emit("dcgan_small", DCGAN(16, 4, 3), dcgan_manifest("dcgan-small", 16, 4, 3), [16, 1, 1], n=3)


def dcgan_full_manifest():
    d = os.path.join(ROOT, "dcgan_full")
    os.makedirs(d, exist_ok=True)
    m = DCGAN(100, 64, 3)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(dcgan_manifest("dcgan-full", 100, 64, 3), f, indent=1)
    expected = count(m, torch.zeros(1, 100), [100, 1, 1])
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("dcgan_full macs", expected["multiply_adds"])


def options():
    """Every geometry option: rectangular kernels and strides, asymmetric padding and crops,
    output_padding, upsample x3, batch norm eps 0.8, leaky slope 0.1, no bias."""
    torch.manual_seed(4)
    native = nn.ConvTranspose2d(4, 5, (3, 4), (2, 3), padding=(1, 2), output_padding=(1, 2))
    m = nn.Sequential(
        AsymConv2d(2, 4, (3, 2), (2, 1), (1, 0, 2, 1)), nn.LeakyReLU(0.1),   # (2,5,4) -> (4,2,6)
        native, nn.BatchNorm2d(5, eps=0.8), nn.ReLU(),                      # -> (5,4,17)
        AsymConvT2d(5, 3, 3, 2, (0, 1, 1, 0), (1, 0)),                        # -> (3,9,34)
        nn.Upsample(scale_factor=3),                                         # -> (3,27,102)
        AsymConv2d(3, 2, 3, (3, 4), (1, 1, 0, 2), bias=False), nn.Tanh())    # -> (2,9,26)
    layers = [
        {"type": "conv2d", "in": 2, "out": 4, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0, 2, 1],
         "weight": "0.conv.weight", "bias": "0.conv.bias"},
        {"type": "leakyrelu", "slope": 0.1},
        {"type": "convtranspose2d", "in": 4, "out": 5, "kernel": [3, 4], "stride": [2, 3], "padding": [1, 2],
         "output_padding": [1, 2], "weight": "2.weight", "bias": "2.bias"},
        bn("3", 5, eps=0.8), {"type": "relu"},
        {"type": "convtranspose2d", "in": 5, "out": 3, "kernel": 3, "stride": 2, "padding": [0, 1, 1, 0],
         "output_padding": [1, 0], "weight": "5.conv.weight", "bias": "5.bias"},
        {"type": "upsample", "scale": 3},
        {"type": "conv2d", "in": 3, "out": 2, "kernel": 3, "stride": [3, 4], "padding": [1, 1, 0, 2],
         "weight": "7.conv.weight"},
        {"type": "tanh"}]
    manifest = {"format": "forger-model", "version": 1, "name": "options", "description": "parity fixture: every geometry option",
                "latent": {"size": 40, "shape": [2, 5, 4], "distribution": {"kind": "normal"}},
                "output": {"channels": 2, "height": 9, "width": 26, "range": [-1, 1]}, "layers": layers}
    emit("options", m, manifest, [2, 5, 4])


class Conditional(nn.Module):
    """Embedding(label) joined to z (concat, latent first; or multiply), then a small stack."""
    def __init__(self, nz, classes, dim, join):
        super().__init__()
        self.label_emb = nn.Embedding(classes, dim)
        self.join = join
        cin = nz + dim if join == "concat" else nz
        self.body = nn.Sequential(nn.Linear(cin, 2 * 3 * 3), View(2, 3, 3), nn.BatchNorm2d(2), nn.ReLU(),
                                  nn.Upsample(scale_factor=2), nn.Conv2d(2, 1, 3, padding=1), nn.Tanh())

    def embed(self, labels=None, weights=None):
        return self.label_emb(labels) if weights is None else weights @ self.label_emb.weight

    def forward(self, z, labels=None, weights=None):
        e = self.embed(labels, weights)
        x = torch.cat([z, e], 1) if self.join == "concat" else z * e
        return self.body(x)


def conditional(name, join):
    torch.manual_seed(5)
    nz, classes = 6, 3
    dim = 4 if join == "concat" else nz
    m = Conditional(nz, classes, dim, join)
    randomise_bn(m)
    m.eval()
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    z = torch.randn(4, nz, generator=g)
    labels = torch.tensor([0, 1, 2, 1])
    weights = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    with torch.no_grad():
        y = m(z, labels=labels)
        y_mix = m(z, weights=weights)
    sd = {k: v for k, v in m.state_dict().items() if "num_batches_tracked" not in k}
    write_safetensors(os.path.join(d, "weights.safetensors"), sd)
    manifest = {"format": "forger-model", "version": 1, "name": name, "description": "parity fixture: class conditioning",
                "latent": {"size": nz, "distribution": {"kind": "normal"}},
                "output": {"channels": 1, "height": 6, "width": 6, "range": [-1, 1]},
                "conditioning": {"classes": classes, "embedding": "label_emb.weight",
                                 "join": "concat-latent-first" if join == "concat" else "multiply"},
                "layers": [{"type": "linear", "in": nz + dim if join == "concat" else nz, "out": 18,
                            "weight": "body.0.weight", "bias": "body.0.bias"},
                           {"type": "reshape", "shape": [2, 3, 3]}, bn("body.2", 2), {"type": "relu"},
                           {"type": "upsample", "scale": 2},
                           {"type": "conv2d", "in": 2, "out": 1, "kernel": 3, "padding": 1,
                            "weight": "body.5.weight", "bias": "body.5.bias"}, {"type": "tanh"}]}
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    write_npy(os.path.join(d, "input.npy"), z.numpy())
    write_npy(os.path.join(d, "labels.npy"), labels.float().numpy())
    write_npy(os.path.join(d, "expected.npy"), y.numpy())
    write_npy(os.path.join(d, "class_weights.npy"), weights.numpy())
    write_npy(os.path.join(d, "expected_mix.npy"), y_mix.numpy())
    params = sum(v.numel() for k, v in sd.items() if "running" not in k)
    macs = (nz + dim if join == "concat" else nz) * 18 + 36 * 2 * 9
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"multiply_adds": macs, "parameters": params, "reference": "PyTorch %s" % torch.__version__}, f, indent=1)
    print(name, "out", list(y.shape))


if __name__ == "__main__":
    torch.set_num_threads(1)
    mlp(); theano_mnist(); dcgan_small(); dcgan_full_manifest(); options()
    conditional("cond_concat", "concat"); conditional("cond_multiply", "multiply")
