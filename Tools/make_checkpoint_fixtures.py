#!/usr/bin/python3
"""Writes the PyTorch checkpoint fixtures for Tests/ModelIOTests/CheckpointTests.swift.

Run with Debian's python3-torch (torch 1.13, CPU):

    /usr/bin/python3 Tools/make_checkpoint_fixtures.py [output folder]

It writes small torch.save files in both containers (zip and legacy), a nested-dict checkpoint,
a DEFLATED and a zip64 copy of the zip, and expected.json: for each file and tensor the dtype,
shape and every value as torch reads them (converted to float32, row-major), plus their sum.
"""
import json
import os
import sys
import zipfile

import torch
import torch.nn as nn


def generator_state_dict():
    """A few layers of each kind the importers meet, plus the awkward tensors."""
    torch.manual_seed(1234)
    net = nn.Sequential(
        nn.Linear(4, 3),         # 0: weight (3, 4), bias (3,)
        nn.Conv2d(2, 3, 3),      # 1: weight (3, 2, 3, 3), bias (3,)
        nn.BatchNorm2d(3),       # 2: weight, bias, running_mean, running_var, num_batches_tracked (int64)
    )
    with torch.no_grad():
        net[2].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3]))
        net[2].running_var.copy_(torch.tensor([1.5, 0.5, 2.0]))
        net[2].num_batches_tracked.fill_(7)
    sd = net.state_dict()
    base = torch.arange(20, dtype=torch.float32).reshape(4, 5) / 8 - 1
    sd["half"] = (torch.randn(2, 3) * 3).half()
    sd["bfloat"] = (torch.randn(3) * 3).bfloat16()
    sd["double"] = torch.randn(3, dtype=torch.float64) * 1e3
    sd["int32"] = torch.tensor([[-5, 0], [7, 2**20]], dtype=torch.int32)
    sd["mask"] = torch.tensor([True, False, True])
    sd["base"] = base                         # (4, 5), shares its storage with the next two
    sd["transposed"] = base.t()               # (5, 4), strides (1, 5)
    sd["slice"] = base[1:3, 1:4]              # (2, 3), offset 6, strides (5, 1)
    sd["scalar"] = torch.tensor(2.5)          # shape ()
    sd["empty"] = torch.zeros(0, 3)
    return sd


def discriminator_state_dict():
    torch.manual_seed(99)
    return nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU(0.2), nn.Linear(2, 1)).state_dict()


def describe(sd):
    out = []
    for name, t in sd.items():
        values = t.detach().contiguous().reshape(-1).to(torch.float32).tolist()
        out.append({
            "name": name,
            "dtype": {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
                      torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                      torch.bool: "BOOL"}[t.dtype],
            "shape": list(t.shape),
            "values": values,
            "sum": float(sum(values)),
        })
    return out


def rewrite_zip(src, dst, compression, force_zip64=False):
    """Copies a torch zip entry by entry, optionally deflated or with zip64 records everywhere."""
    saved = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
    if force_zip64:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
            for info in zin.infolist():
                fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
                zout.writestr(fixed, zin.read(info.filename), compress_type=compression)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    if force_zip64:
        # Saturate the classic end record so readers must follow the zip64 locator.
        data = bytearray(open(dst, "rb").read())
        eocd = data.rindex(b"PK\x05\x06")
        data[eocd + 8:eocd + 12] = b"\xff\xff\xff\xff"        # entry counts
        data[eocd + 12:eocd + 20] = b"\xff\xff\xff\xff" * 2   # directory size, offset
        open(dst, "wb").write(data)


def write_pretrained_reference(folder, dst):
    """Per tensor of each real checkpoint: dtype, shape, first three values and the sum (float64)."""
    ref = {"produced_by": "Tools/make_checkpoint_fixtures.py, torch " + torch.__version__, "files": {}}
    for name in sorted(os.listdir(folder)):
        sd = torch.load(os.path.join(folder, name), map_location="cpu")
        ref["files"][name] = [{
            "name": k,
            "shape": list(t.shape),
            "first": t.reshape(-1)[:3].to(torch.float32).tolist(),
            "sum": float(t.to(torch.float64).sum()),
        } for k, t in sd.items()]
    with open(dst, "w") as f:
        json.dump(ref, f)
        f.write("\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelIOTests", "Fixtures", "checkpoints")
    os.makedirs(out, exist_ok=True)
    sd, sd2 = generator_state_dict(), discriminator_state_dict()

    files = {
        "state_dict_zip.pt": sd,
        "state_dict_legacy.pt": sd,
        "state_dict_deflated.pt": sd,
        "state_dict_zip64.pt": sd,
        "state_dict_protocol4.pt": sd,  # FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE
        "nested_zip.pt": sd,          # expected values are those of key "netG"
        "nested_legacy.pt": sd,
    }
    torch.save(sd, os.path.join(out, "state_dict_zip.pt"))
    torch.save(sd, os.path.join(out, "state_dict_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(out, "state_dict_protocol4.pt"), pickle_protocol=4)
    rewrite_zip(os.path.join(out, "state_dict_zip.pt"), os.path.join(out, "state_dict_deflated.pt"), zipfile.ZIP_DEFLATED)
    rewrite_zip(os.path.join(out, "state_dict_zip.pt"), os.path.join(out, "state_dict_zip64.pt"), zipfile.ZIP_STORED, True)
    nested = {"netG": sd, "netD": sd2, "epoch": 5}
    torch.save(nested, os.path.join(out, "nested_zip.pt"))
    torch.save(nested, os.path.join(out, "nested_legacy.pt"), _use_new_zipfile_serialization=False)

    # Every file must load back with the same values: in torch, or (zip64, which torch's
    # miniz reader refuses) entry for entry in Python's zipfile.
    with zipfile.ZipFile(os.path.join(out, "state_dict_zip64.pt")) as z64, \
            zipfile.ZipFile(os.path.join(out, "state_dict_zip.pt")) as z:
        assert z64.testzip() is None
        assert all(z64.read(i.filename) == z.read(i.filename) for i in z.infolist())
    for name in files:
        if name == "state_dict_zip64.pt":
            continue
        loaded = torch.load(os.path.join(out, name))
        if "netG" in loaded:
            loaded = loaded["netG"]
        for k, t in sd.items():
            assert torch.equal(loaded[k], t), (name, k)

    expected = {
        "produced_by": "Tools/make_checkpoint_fixtures.py, torch " + torch.__version__,
        "state_dict": describe(sd),
        "netD": describe(sd2),
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    pretrained = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "pretrained")
    if os.path.isdir(pretrained):
        write_pretrained_reference(pretrained, os.path.join(out, "pretrained_expected.json"))
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {len(files)} checkpoints and expected.json to {out} ({total} bytes)")


if __name__ == "__main__":
    main()
