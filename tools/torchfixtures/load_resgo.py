#!/usr/bin/python3
"""Loads a resgo checkpoint (safetensors) of a torchvision-named ResNet into
torchvision's own model with load_state_dict, and checks that PyTorch then
computes the logits it computed before export: the way back of resgo's
PyTorch import (interop), run by cmd/resgo's import test.

  /usr/bin/python3 tools/torchfixtures/load_resgo.py CHECKPOINT --arch resnet18 --base-depth 8 \\
      --classes 10 --input fx/resnet18_d8_input.f32 --logits fx/resgo_logits.f32 --size 64

The safetensors layout (an 8-byte little-endian header length, a JSON header
of dtype, shape and data_offsets, the data) is read with json and numpy, as
the format's specification describes; PyTorch's load_state_dict then checks
every name and shape.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import build  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", (name, info["dtype"])
        lo, hi = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[lo:hi], dtype="<f4").copy().reshape(info["shape"]))
    return tensors, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--arch", required=True)
    ap.add_argument("--base-depth", type=int, default=64)
    ap.add_argument("--classes", type=int, required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--input", required=True, help="raw float32 [N,3,size,size]")
    ap.add_argument("--logits", required=True, help="raw float32 [N,classes] to compare with")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tensors, meta = read_safetensors(a.checkpoint)
    m = build(a.arch, a.base_depth, a.classes)
    # The checkpoint also holds moving averages (".../ExponentialMovingAverage")
    # and momentum buffers: the model's own names are the plain ones.
    own = {k: v for k, v in tensors.items() if "/" not in k}
    result = m.load_state_dict(own, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        sys.exit("missing %s, unexpected %s" % (missing, result.unexpected_keys))
    m.eval()
    x = torch.from_numpy(np.fromfile(a.input, dtype="<f4").reshape(-1, 3, a.size, a.size))
    want = torch.from_numpy(np.fromfile(a.logits, dtype="<f4").reshape(x.shape[0], -1))
    with torch.no_grad():
        got = m(x)
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    print("loaded %d tensors (step %s); max |logits - before| = %.3g of %.3g" % (len(own), meta.get("step"), diff, scale))
    if not diff <= 1e-5 * scale:
        sys.exit("logits differ")


if __name__ == "__main__":
    main()
