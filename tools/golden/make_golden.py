#!/usr/bin/python3
"""Golden values for the seed-resnet34 model, computed with PyTorch.

Builds the tutorial's seed-resnet34 (no batch norm, biased convolutions,
TensorFlow "SAME" padding, zero-padded channel shortcuts) at a narrow base
depth, draws random weights and batches, and writes to a safetensors file:

  param/<name>   initial weights (Go parameter names and layouts)
  grad/<name>    gradient of the loss w.r.t. each parameter on "input"
  input, labels  one batch [4,1,28,28] and its labels [4] (as float32)
  logits, loss   the model's output [4,10] and the loss [1]
  sgd/inputs     [5,4,1,28,28], sgd/labels [5,4]: five fixed batches
  sgd/losses     [5] the loss of each plain-SGD step before its update

loss = mean softmax cross-entropy + l2 * sum(fc_weight^2) / 2.

Everything is computed in float64 from weights and inputs that were first
rounded to float32 (the values the Go side loads); results are saved as
float32. Only torch and the standard library are used, so the safetensors
file is written by hand.

Run with Debian's interpreter, which has torch:
  /usr/bin/python3 tools/golden/make_golden.py
"""

import argparse
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

SEED = 20240611
BATCH = 4
CLASSES = 10
INPUT = (1, 28, 28)
LABELS = [3, 1, 4, 1]
SGD_STEPS = 5
LR = 0.03
L2 = 1e-4
FC_WEIGHT = "layer34-fc/weight"


# ---------------------------------------------------------------- the model

def same_padding(size, k, s):
    """TensorFlow SAME for one axis: (out, before, after)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def pad_same(x, k, s, value=0.0):
    _, top, bottom = same_padding(x.shape[2], k, s)
    _, left, right = same_padding(x.shape[3], k, s)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def build(d, in_ch=INPUT[0], hw=INPUT[1:], classes=CLASSES):
    """Returns (layers, shapes): the layer list the forward pass walks and
    the parameter shapes {name: shape} in the Go model's creation order."""
    shapes = {}
    layers = []

    def conv(name, cin, cout, k, s, relu):
        shapes[name + "/weights"] = (cout, cin, k, k)
        shapes[name + "/biases"] = (cout,)
        return ("conv", name, k, s, relu)

    layers.append(conv("layer1-initconv/Conv", in_ch, d, 7, 1, True))
    layers.append(("maxpool", 2, 2))
    h, w = hw
    h, w = same_padding(h, 7, 1)[0], same_padding(w, 7, 1)[0]
    h, w = same_padding(h, 2, 2)[0], same_padding(w, 2, 2)[0]

    stages = [("layer4-9-conv", d, 3, False), ("layer10-15-conv", 2 * d, 4, True),
              ("layer16-27-conv", 4 * d, 6, True), ("layer28-33-conv", 8 * d, 3, True)]
    cin = d
    for scope, depth, count, half in stages:
        scope = "resnet_layer/" + scope
        n = [0]

        def next_name():
            name = scope + "/Conv" + ("_%d" % n[0] if n[0] else "")
            n[0] += 1
            return name

        if half:
            layers.append(conv(next_name(), cin, depth // 4, 1, 2, True))
            cin = depth // 4
            h, w = same_padding(h, 1, 2)[0], same_padding(w, 1, 2)[0]
        for _ in range(count):
            a = conv(next_name(), cin, depth, 3, 1, True)
            b = conv(next_name(), depth, depth, 3, 1, False)
            layers.append(("residual", a, b))
            cin = depth
    layers.append(("avgpool", 2, 2))
    h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1
    features = cin * h * w
    shapes[FC_WEIGHT] = (classes, features)
    shapes["layer34-fc/bias"] = (classes,)
    layers.append(("fc", "layer34-fc"))
    return layers, shapes


def apply_conv(layer, p, x):
    _, name, k, s, relu = layer
    y = F.conv2d(pad_same(x, k, s), p[name + "/weights"], p[name + "/biases"], stride=s)
    return F.relu(y) if relu else y


def forward(layers, p, x):
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            x = apply_conv(layer, p, x)
        elif kind == "maxpool":
            _, k, s = layer
            # Padded cells never win: pad with -inf.
            x = F.max_pool2d(pad_same(x, k, s, value=-math.inf), k, s)
        elif kind == "avgpool":
            # VALID: no padding, every window lies inside the input.
            _, k, s = layer
            x = F.avg_pool2d(x, k, s)
        elif kind == "residual":
            _, a, b = layer
            y = apply_conv(b, p, apply_conv(a, p, x))
            c, depth = x.shape[1], y.shape[1]
            if c < depth:
                assert (depth - c) % 2 == 0
                half = (depth - c) // 2
                x = F.pad(x, (0, 0, 0, 0, half, half))  # channel axis of NCHW
            x = y + x  # no ReLU after the sum
        elif kind == "fc":
            _, name = layer
            x = x.flatten(1) @ p[name + "/weight"].t() + p[name + "/bias"]
        else:
            raise ValueError(kind)
    return x


def loss_fn(layers, p, x, labels):
    logits = forward(layers, p, x)
    ce = F.cross_entropy(logits, labels)
    return ce + L2 * (p[FC_WEIGHT] ** 2).sum() / 2, logits


# ------------------------------------------------------------- random values

def f32(t):
    """Round to float32, then compute in float64 from the rounded values."""
    return t.float().double()


def init_params(shapes, gen):
    params = {}
    for name, shape in shapes.items():
        if len(shape) == 4:
            o, i, kh, kw = shape
            a = math.sqrt(6.0 / ((i + o) * kh * kw))
            v = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * a
        elif name == FC_WEIGHT:
            v = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.1
        else:  # biases: non-zero so their gradients are tested
            v = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * 0.1
        params[name] = f32(v)
    return params


def batch(gen, n=BATCH):
    return f32(torch.rand((n,) + INPUT, generator=gen, dtype=torch.float64))


# --------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor) written in this order."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, t in tensors:
        vals = t.detach().reshape(-1).float().tolist()
        blob = struct.pack("<%df" % len(vals), *vals)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


# ---------------------------------------------------------------------- main

def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=8, help="base depth d (default 8)")
    ap.add_argument("--out", default=None, help="output file (default testdata/golden_seed_resnet34_d<depth>.safetensors)")
    args = ap.parse_args()
    out = args.out or os.path.join(root, "testdata", "golden_seed_resnet34_d%d.safetensors" % args.depth)

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)

    # The full-size model, built only to count its parameters.
    _, shapes64 = build(64)
    n64 = sum(math.prod(s) for s in shapes64.values())
    assert n64 == 20371178, n64
    layers, shapes = build(args.depth)
    n = sum(math.prod(s) for s in shapes.values())
    print("parameters: d=%d %d, d=64 %d" % (args.depth, n, n64))

    params = init_params(shapes, gen)
    x = batch(gen)
    labels = torch.tensor(LABELS, dtype=torch.long)
    sgd_x = torch.stack([batch(gen) for _ in range(SGD_STEPS)])
    sgd_labels = torch.randint(0, CLASSES, (SGD_STEPS, BATCH), generator=gen)

    # One forward/backward.
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss, logits = loss_fn(layers, p, x, labels)
    grads = torch.autograd.grad(loss, [p[k] for k in shapes])
    print("loss %.9f" % loss.item())

    # Plain SGD from the same weights; each step's loss before its update.
    w = {k: v.clone() for k, v in params.items()}
    losses = []
    for i in range(SGD_STEPS):
        q = {k: v.clone().requires_grad_(True) for k, v in w.items()}
        l, _ = loss_fn(layers, q, sgd_x[i], sgd_labels[i])
        g = torch.autograd.grad(l, [q[k] for k in shapes])
        with torch.no_grad():
            for k, gk in zip(shapes, g):
                w[k] = w[k] - LR * gk
        losses.append(l.item())
    print("sgd losses", " ".join("%.6f" % v for v in losses))

    tensors = [("param/" + k, params[k]) for k in shapes]
    tensors += [("grad/" + k, gk) for k, gk in zip(shapes, grads)]
    tensors += [("input", x), ("labels", labels.double()),
                ("logits", logits), ("loss", loss.reshape(1)),
                ("sgd/inputs", sgd_x), ("sgd/labels", sgd_labels.double()),
                ("sgd/losses", torch.tensor(losses, dtype=torch.float64))]
    metadata = {"torch_version": torch.__version__, "base_depth": args.depth,
                "lr": LR, "l2": L2, "seed": SEED, "arch": "seed-resnet34",
                "generator": "tools/golden/make_golden.py"}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    write_safetensors(out, tensors, metadata)
    print("wrote %s (%d bytes, %d tensors)" % (out, os.path.getsize(out), len(tensors)))


if __name__ == "__main__":
    main()
