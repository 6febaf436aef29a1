#!/usr/bin/python3
"""Small checkpoints for the importer's tests, written by PyTorch (Debian's python3-torch).

Under Tests/ModelIOTests/Fixtures/import/ it writes, with fixed seeds:
  dcgan_zip.pt          pytorch/examples DCGAN netG (nz 8, ngf 2, nc 3), zip container
  dcgan_nested_legacy.pt  the same weights as {"netG": DataParallel state_dict ("module." names),
                        "epoch": 3}, legacy (pre-1.6) container: --key netG --strip-prefix module.
  dcgan_input.npy / dcgan_expected.npy       latents (2, 8), outputs (2, 3, 64, 64)
  mlp_legacy.pt         nn.Sequential Linear(6,16) BatchNorm1d(16) LeakyReLU(0.2) Linear(16,48)
                        Sigmoid, legacy container; viewed as 3x4x4
  mlp_prefixed.safetensors  the same state_dict as safetensors, names under "netG."
  mlp_input.npy / mlp_expected.npy           latents (3, 6), outputs (3, 3, 4, 4)
  cond_zip.pt           conditional: concat(label_emb(y), z) (label first), Linear(9, 32),
                        (2,4,4), BN(eps 0.8), Upsample 2, Conv2d(2,1,3,p1), Tanh; zip container
  cond_spec.json        its Forger architecture spec
  cond_input.npy / cond_labels.json / cond_expected.npy   latents (3, 5), labels, outputs (3, 1, 8, 8)
Batch norm statistics are randomised so that they matter. Models run in eval mode.

Run: /usr/bin/python3 Tools/make_import_fixtures.py
"""
import json, os, struct
import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelIOTests", "Fixtures", "import")


def randomise_bn(model, shift=(-0.3, 0.3)):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(*shift)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(11)
    return model.eval()


def save(obj, name, legacy):
    torch.save(obj, os.path.join(OUT, name), _use_new_zipfile_serialization=not legacy)


def npy(name, array):
    assert np.std(array) > 0.01, "%s is (nearly) constant: the fixture would test nothing" % name
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=np.float32))


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy()
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


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

    def forward(self, z):
        return self.main(z.view(z.shape[0], -1, 1, 1))


class Cond(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_emb = nn.Embedding(3, 4)
        self.fc = nn.Linear(9, 32)
        self.body = nn.Sequential(nn.BatchNorm2d(2, 0.8), nn.Upsample(scale_factor=2), nn.Conv2d(2, 1, 3, 1, 1), nn.Tanh())

    def forward(self, z, labels):
        return self.body(self.fc(torch.cat((self.label_emb(labels), z), -1)).view(-1, 2, 4, 4))


COND_SPEC = {
    "format": "forger-model", "version": 1, "name": "tiny-cond", "description": "tiny conditional fixture",
    "latent": {"size": 5, "distribution": {"kind": "normal"}},
    "output": {"channels": 1, "height": 8, "width": 8, "range": [-1, 1]},
    "conditioning": {"classes": 3, "embedding": "label_emb.weight", "join": "concat-label-first"},
    "layers": [
        {"type": "linear", "in": 9, "out": 32, "weight": "fc.weight", "bias": "fc.bias"},
        {"type": "reshape", "shape": [2, 4, 4]},
        {"type": "batchnorm", "features": 2, "eps": 0.8, "weight": "body.0.weight", "bias": "body.0.bias",
         "running_mean": "body.0.running_mean", "running_var": "body.0.running_var"},
        {"type": "upsample", "scale": 2},
        {"type": "conv2d", "in": 2, "out": 1, "kernel": 3, "stride": 1, "padding": 1,
         "weight": "body.2.weight", "bias": "body.2.bias"},
        {"type": "tanh"}]}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(5)
    g = randomise_bn(DCGAN(8, 2, 3), shift=(0.1, 0.5))  # positive shifts keep the 2-channel ReLUs alive
    with torch.no_grad():
        g.main[12].weight.mul_(10)  # outputs of a useful size, not ~0.03
    sd = g.state_dict()
    save(sd, "dcgan_zip.pt", legacy=False)
    save({"netG": {"module." + k: v for k, v in sd.items()}, "epoch": 3}, "dcgan_nested_legacy.pt", legacy=True)
    z = torch.randn(2, 8)
    npy("dcgan_input.npy", z.numpy())
    with torch.no_grad():
        npy("dcgan_expected.npy", g(z).numpy())

    torch.manual_seed(6)
    mlp = randomise_bn(nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 48), nn.Sigmoid()))
    save(mlp.state_dict(), "mlp_legacy.pt", legacy=True)
    write_safetensors(os.path.join(OUT, "mlp_prefixed.safetensors"), {"netG." + k: v for k, v in mlp.state_dict().items()})
    z = torch.randn(3, 6)
    npy("mlp_input.npy", z.numpy())
    with torch.no_grad():
        npy("mlp_expected.npy", mlp(z).view(-1, 3, 4, 4).numpy())

    torch.manual_seed(7)
    cond = randomise_bn(Cond())
    save(cond.state_dict(), "cond_zip.pt", legacy=False)
    with open(os.path.join(OUT, "cond_spec.json"), "w") as f:
        json.dump(COND_SPEC, f, indent=1)
    z, labels = torch.randn(3, 5), [2, 0, 1]
    npy("cond_input.npy", z.numpy())
    with open(os.path.join(OUT, "cond_labels.json"), "w") as f:
        json.dump(labels, f)
    with torch.no_grad():
        npy("cond_expected.npy", cond(z, torch.tensor(labels)).numpy())
    print("wrote fixtures to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
