#!/usr/bin/python3
"""Fixtures for resgo's PyTorch import (interop/torch_test.go): torchvision
ResNet state_dicts and their logits, made at test time (resnet50's weights are
about 100 MB: nothing is committed).

For each --arch (resnet18, resnet34, resnet50) this builds torchvision's model
(optionally at a narrow --base-depth, with torchvision's own block classes so
the state_dict keys are exactly torchvision's), trains it for a few SGD steps
on random data so that batch norm's weights, biases, running statistics and
num_batches_tracked are all non-trivial, switches to eval and writes, in --out:

  <arch>[_d<D>]_zip.pt        torch.save(state_dict)                (zip format)
  <arch>[_d<D>]_legacy.pt     torch.save(..., _use_new_zipfile_serialization=False)
  <arch>[_d<D>].safetensors   the same tensors, hand-written safetensors
                              (F32, and I64 for num_batches_tracked, as
                              safetensors.torch.save_file would write them)
  <arch>[_d<D>]_input.f32     the fixed eval batch [N,3,H,W], raw little-endian float32
  <arch>[_d<D>]_logits.f32    model(input) in eval mode [N, classes], raw float32
  <arch>[_d<D>]_v1logits.f32  (bottleneck archs) logits of the SAME weights with the
                              stride moved from the 3x3 (torchvision "v1.5") to the
                              first 1x1 (the paper, and resgo's resnet50)
  <arch>[_d<D>].json          shapes, dtypes, seed, torch version, a few values

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):
  /usr/bin/python3 tools/torchfixtures/make_fixtures.py --arch resnet18 resnet34 resnet50 --out fx
  /usr/bin/python3 tools/torchfixtures/make_fixtures.py --arch resnet18 resnet50 --base-depth 8 --size 64 --classes 10 --out fx
then RESGO_TORCH_FIXTURES=fx go test ./interop -run Torch (CI does both sizes).
"""

import argparse
import json
import os
import struct
import time

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

ARCHS = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}


def build(arch, d, classes):
    """torchvision's ResNet; for d != 64 the stem, stages and fc are rebuilt at
    width d with ResNet._make_layer, so keys and block code stay torchvision's."""
    block, layers = ARCHS[arch]
    m = ResNet(block, layers, num_classes=classes)
    if d != 64:
        m.inplanes = d
        m.conv1 = nn.Conv2d(3, d, kernel_size=7, stride=2, padding=3, bias=False)
        m.bn1 = nn.BatchNorm2d(d)
        m.layer1 = m._make_layer(block, d, layers[0])
        m.layer2 = m._make_layer(block, 2 * d, layers[1], stride=2)
        m.layer3 = m._make_layer(block, 4 * d, layers[2], stride=2)
        m.layer4 = m._make_layer(block, 8 * d, layers[3], stride=2)
        m.fc = nn.Linear(8 * d * block.expansion, classes)
        for mod in m.modules():  # torchvision's initialisers
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.constant_(mod.weight, 1)
                nn.init.constant_(mod.bias, 0)
    return m


def stride_on_1x1(m):
    """The same weights with each strided bottleneck's stride on conv1 (1x1)
    instead of conv2 (3x3): He et al.'s ResNet v1, which resgo builds."""
    for mod in m.modules():
        if isinstance(mod, Bottleneck) and mod.conv2.stride != (1, 1):
            mod.conv1.stride, mod.conv2.stride = mod.conv2.stride, (1, 1)
    return m


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes())


def write_safetensors(path, sd, metadata):
    """Hand-written safetensors (no safetensors package here): header JSON
    with __metadata__, dtype F32/I64, shapes, data_offsets; 8-byte aligned."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k, v in sd.items():
        v = v.detach().contiguous().cpu()
        dt = {torch.float32: "F32", torch.int64: "I64"}[v.dtype]
        b = v.numpy().tobytes()  # little-endian on x86
        header[k] = {"dtype": dt, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", nargs="+", default=["resnet18"], choices=sorted(ARCHS))
    ap.add_argument("--out", default="fixtures")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--base-depth", type=int, default=64)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--size", type=int, default=224, help="eval input side")
    ap.add_argument("--train-size", type=int, default=64, help="input side of the SGD steps")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2, help="eval batch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", nargs="*", default=[], help="image files to classify as torchvision's ImageNet recipe "
                    "prepares them (resize 256, centre crop 224 scaled to --size, normalise): writes <base>_images.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)

    for arch in a.arch:
        t0 = time.time()
        torch.manual_seed(a.seed)
        stem = arch if a.base_depth == 64 else "%s_d%d" % (arch, a.base_depth)
        base = os.path.join(a.out, stem)
        m = build(arch, a.base_depth, a.classes)
        # A few SGD steps on random data: moves every weight and BN's running
        # stats off their initial values and counts num_batches_tracked.
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        m.train()
        for _ in range(a.steps):
            x = torch.randn(a.train_batch, 3, a.train_size, a.train_size)
            y = torch.randint(0, a.classes, (a.train_batch,))
            loss = nn.functional.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        t_train = time.time() - t0
        m.eval()
        sd = m.state_dict()
        torch.save(sd, base + "_zip.pt")
        torch.save(sd, base + "_legacy.pt", _use_new_zipfile_serialization=False)
        meta = {"arch": arch, "base_depth": str(a.base_depth), "torch_version": torch.__version__}
        write_safetensors(base + ".safetensors", sd, meta)

        if a.images:
            from PIL import Image
            from torchvision import transforms
            prep = transforms.Compose([
                transforms.Resize(round(a.size * 256 / 224)), transforms.CenterCrop(a.size), transforms.ToTensor(),
                transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
            answers = []
            with torch.no_grad():
                for path in a.images:
                    x1 = prep(Image.open(path).convert("RGB")).unsqueeze(0)
                    p = torch.softmax(m(x1), 1)[0]
                    top = torch.topk(p, 5)
                    answers.append({"image": path, "top5": top.indices.tolist(), "probabilities": top.values.tolist()})
                    write_f32(base + "_image%d.f32" % len(answers), x1)
            with open(base + "_images.json", "w") as f:
                json.dump(answers, f, indent=1)
        g = torch.Generator().manual_seed(a.seed + 1)
        x = torch.randn(a.batch, 3, a.size, a.size, generator=g)
        with torch.no_grad():
            logits = m(x)
            write_f32(base + "_input.f32", x)
            write_f32(base + "_logits.f32", logits)
            v1 = None
            if ARCHS[arch][0] is Bottleneck:
                v1 = stride_on_1x1(m)(x)
                write_f32(base + "_v1logits.f32", v1)
        info = {
            "arch": arch, "base_depth": a.base_depth, "classes": a.classes, "seed": a.seed,
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "steps": a.steps, "train_size": a.train_size, "final_loss": loss.item(),
            "input_shape": list(x.shape), "logits_shape": list(logits.shape),
            "tensors": {k: [str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in sd.items()},
            "num_batches_tracked": sd["bn1.num_batches_tracked"].item(),
            "logits_first": logits.flatten()[:5].tolist(),
            "v1_max_abs_diff": None if v1 is None else (v1 - logits).abs().max().item(),
            "seconds": {"train": round(t_train, 2), "total": round(time.time() - t0, 2)},
        }
        with open(base + ".json", "w") as f:
            json.dump(info, f, indent=1)
        print("%s: %d tensors, num_batches_tracked=%d, loss %.4f, logits %s, v1 diff %s, train %.1fs, total %.1fs"
              % (stem, len(sd), info["num_batches_tracked"], info["final_loss"], tuple(logits.shape),
                 info["v1_max_abs_diff"], t_train, time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
