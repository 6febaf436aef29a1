#!/usr/bin/python3
"""Reference outputs of the three real pretrained generators, computed by PyTorch.

Builds each generator exactly as its authors wrote it (architectures from
../shared/data/README.md), loads its checkpoint from ../shared/data/pretrained with
load_state_dict(strict=True), runs it in eval mode on fixed latents and writes, under
Tests/ModelIOTests/Fixtures/import/pretrained/:
  <name>_input.npy     latents (4, Z), float32
  <name>_labels.json   class labels (conditional model only)
  <name>_expected.npy  PyTorch's outputs (4, C, H, W), float32
The checkpoints themselves are not part of the repository.

Models and licences: csinva/gan-vae-pretrained-pytorch (MIT), fletchersarip93/face-generator
(Apache-2.0), HayatoHongo/MNIST-Conditional-WGAN-gp (MIT).

Run: /usr/bin/python3 Tools/pretrained_reference.py [PRETRAINED_FOLDER]   (deterministic)
"""
import json, os, sys
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "ModelIOTests", "Fixtures", "import", "pretrained")


class CsinvaMLP(nn.Sequential):
    """csinva: Linear(64,256) ReLU Linear(256,256) ReLU Linear(256,784) Tanh, then 1x28x28."""
    def __init__(self):
        super().__init__(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())

    def forward(self, z):
        return super().forward(z).view(-1, 1, 28, 28)


class FletcherDCGAN(nn.Module):
    """fletchersarip93: convT, BN (no activation); conv3x3, BN, LReLU; 3x (convT, BN, LReLU); convT, tanh."""
    def __init__(self):
        super().__init__()
        def stage(conv, bn=True, act=True):
            parts = [conv] + ([nn.BatchNorm2d(conv.out_channels)] if bn else []) + ([nn.LeakyReLU(0.2)] if act else [])
            return nn.Sequential(*parts)
        self.generator_deconv = nn.Sequential(
            stage(nn.ConvTranspose2d(100, 256, 4, 1, 0, bias=False), act=False),
            stage(nn.Conv2d(256, 128, 3, 1, 1, bias=False)),
            stage(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False)),
            stage(nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False)),
            nn.Sequential(nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=True), nn.Tanh()))

    def forward(self, z):
        return self.generator_deconv(z.view(-1, 100, 1, 1))


class HayatoCond(nn.Module):
    """HayatoHongo: concat(z, label_emb(y)) -> Linear(20, 6272) -> (128,7,7) -> conv blocks."""
    def __init__(self):
        super().__init__()
        self.label_emb = nn.Embedding(10, 10)
        self.l1 = nn.Sequential(nn.Linear(20, 128 * 7 * 7))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(128), nn.Upsample(scale_factor=2), nn.Conv2d(128, 128, 3, stride=1, padding=1),
            nn.BatchNorm2d(128, 0.8), nn.ReLU(inplace=True), nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64, 0.8), nn.ReLU(inplace=True),
            nn.Conv2d(64, 1, 3, stride=1, padding=1), nn.Tanh())

    def forward(self, z, labels):
        x = torch.cat((z, self.label_emb(labels)), -1)
        return self.conv_blocks(self.l1(x).view(-1, 128, 7, 7))


# name, checkpoint, module, latent size, prior, labels
MODELS = [
    ("csinva_mnist_mlp", "csinva_mnist_gan_mlp_G--300.ckpt", CsinvaMLP, 64, "normal", None),
    ("fletchersarip93_celeba32_dcgan", "fletchersarip93_celeba32_dcgan_generator.pt", FletcherDCGAN, 100, "uniform", None),
    ("hayatohongo_mnist_cond", "HayatoHongo_mnist_cond_wgangp_generator.pth", HayatoCond, 10, "normal", [0, 3, 7, 9]),
]


def load(cls, path):
    model = cls()
    model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    return model.eval()


def latents(size, prior, seed, n=4):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, size)) if prior == "normal" else rng.uniform(-1, 1, (n, size))
    return z.astype(np.float32)


def run(model, z, labels):
    with torch.no_grad():
        zt = torch.from_numpy(z)
        y = model(zt, torch.tensor(labels)) if labels is not None else model(zt)
    return y.numpy().astype(np.float32)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "data", "pretrained")
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for i, (name, file, cls, size, prior, labels) in enumerate(MODELS):
        z = latents(size, prior, seed=100 + i)
        y = run(load(cls, os.path.join(folder, file)), z, labels)
        np.save(os.path.join(OUT, name + "_input.npy"), z)
        np.save(os.path.join(OUT, name + "_expected.npy"), y)
        if labels is not None:
            with open(os.path.join(OUT, name + "_labels.json"), "w") as f:
                json.dump(labels, f)
        print("%s: %s -> %s, range [%.3f, %.3f]" % (name, z.shape, y.shape, y.min(), y.max()))


if __name__ == "__main__":
    main()
