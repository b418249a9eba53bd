#!/usr/bin/python3
"""PyTorch counterpart of `resgo bench`: seed-resnet34 training and inference speed.

The model is the one tools/golden/make_golden.py builds (TF "SAME" padding,
zero-padded channel shortcuts, no batch norm), imported from that file by
path, here in float32. It measures what `resgo bench` measures:

  train  one step at batch B: forward, mean cross-entropy
         + 1e-4 * sum(fc.weight^2) / 2, backward, torch.optim.SGD (lr 0.03),
         and an exponential moving average of every weight (decay
         min(0.99, (1+step)/(10+step)), as resgo's trainer)
  infer  a forward pass under torch.inference_mode (torch.no_grad if absent)

Each row reports ms per step, images/s, GFLOP/s (2 FLOPs per multiply-add,
training counts 3x the forward pass; multiply-adds are counted on the model)
and the peak RSS. Every row runs in its own child process (this script
re-invokes itself with --mode/--batch), so one row's peak RSS neither
inflates nor is inflated by another's; the parent process does not import
torch.

Run with Debian's interpreter, which has torch:
  /usr/bin/python3 bench/pytorch_bench.py [--depth 64] [--threads 2] [--json]
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(ROOT, "tools", "golden", "make_golden.py")

# The real model (base depth 64): parameters and multiply-adds per image,
# as `resgo summary` prints them.
PARAMS_D64 = 20371178
MACS_D64 = 254275584

# Thread-count variables the math libraries read when they start; set before
# torch is imported so that no library starts more threads than asked for.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# glibc malloc tunables that change PyTorch's speed (see bench/README.md).
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "LD_PRELOAD")


def load_golden():
    """Imports tools/golden/make_golden.py as a module (it is not a package)."""
    spec = importlib.util.spec_from_file_location("resgo_golden_model", GOLDEN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def peak_rss_mib():
    """(VmHWM, ru_maxrss) in MiB. VmHWM is what resgo reports; ru_maxrss
    (KiB on Linux) can carry a forking parent's high-water mark across exec,
    so VmHWM is the primary figure and ru_maxrss a cross-check."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024, ru
    except OSError:
        pass
    return ru, ru


# ------------------------------------------------------------ one measurement

def run_child(args):
    """Measures one (mode, batch) in this process; returns the report dict."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    g = load_golden()

    layers, shapes = g.build(args.depth)
    n_params = sum(_prod(s) for s in shapes.values())
    if args.depth == 64:
        assert n_params == PARAMS_D64, n_params

    # Convolutions: the golden model pads with F.pad and convolves with
    # padding 0. With --pad fused a symmetric SAME padding goes into conv2d
    # instead (the same numbers, one copy fewer; every padding of this model
    # at 28x28 is symmetric), which is how one would write it in PyTorch.
    # Either way each convolution's multiply-adds are counted while a
    # counter is set.
    golden_conv = g.apply_conv
    counter = {"macs": None}

    def fused_conv(layer, p, x):
        _, name, k, s, relu = layer
        _, top, bottom = g.same_padding(x.shape[2], k, s)
        _, left, right = g.same_padding(x.shape[3], k, s)
        if top != bottom or left != right:
            return golden_conv(layer, p, x)
        y = F.conv2d(x, p[name + "/weights"], p[name + "/biases"], stride=s, padding=(top, left))
        return F.relu(y) if relu else y

    conv_impl = fused_conv if args.pad == "fused" else golden_conv

    def apply_conv(layer, p, x):
        y = conv_impl(layer, p, x)
        if counter["macs"] is not None:
            w = p[layer[1] + "/weights"]  # (out, in, kh, kw)
            counter["macs"] += (y.numel() // y.shape[0]) * w.shape[1] * w.shape[2] * w.shape[3]
        return y

    # forward() looks apply_conv up in its module at each call.
    g.apply_conv = apply_conv

    gen = torch.Generator().manual_seed(g.SEED)
    params = init_params32(torch, g, shapes, gen)
    x = torch.rand((args.batch,) + g.INPUT, generator=gen, dtype=torch.float32)
    labels = torch.randint(0, g.CLASSES, (args.batch,), generator=gen)

    # Multiply-adds per image, counted on one image: the convolutions above
    # plus the fully connected layer (in * out).
    with torch.no_grad():
        counter["macs"] = 0
        logits = g.forward(layers, params, x[:1])
        fc_out, fc_in = shapes[g.FC_WEIGHT]
        macs = counter["macs"] + fc_in * fc_out
        counter["macs"] = None
    assert tuple(logits.shape) == (1, g.CLASSES), logits.shape
    if args.pad == "fused":  # the same numbers as the golden model's padding
        conv_impl = golden_conv
        with torch.no_grad():
            ref = g.forward(layers, params, x[:1])
        conv_impl = fused_conv
        assert torch.allclose(logits, ref, rtol=1e-4, atol=1e-5), (logits, ref)
    if args.depth == 64:
        assert macs == MACS_D64, macs

    context = "none"
    if args.mode == "train":
        plist = [params[k].requires_grad_(True) for k in shapes]
        try:
            opt = torch.optim.SGD(plist, lr=g.LR, foreach=True)
        except TypeError:  # torch without foreach optimisers
            opt = torch.optim.SGD(plist, lr=g.LR)
        ema = [p.detach().clone() for p in plist]
        ema_decay = 0.99
        step_no = [0]

        def step():
            opt.zero_grad(set_to_none=True)
            loss, _ = g.loss_fn(layers, params, x, labels)
            loss.backward()
            opt.step()
            d = min(ema_decay, (1 + step_no[0]) / (10 + step_no[0]))
            with torch.no_grad():
                torch._foreach_mul_(ema, d)
                torch._foreach_add_(ema, plist, alpha=1 - d)
            step_no[0] += 1
    else:
        out = torch.empty((args.batch, g.CLASSES))
        if hasattr(torch, "inference_mode"):
            ctx, context = torch.inference_mode, "inference_mode"
        else:
            ctx, context = torch.no_grad, "no_grad"

        def step():
            with ctx():
                out.copy_(g.forward(layers, params, x))

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    el = (time.perf_counter() - start) / args.steps

    flops = 2.0 * macs * args.batch * (3 if args.mode == "train" else 1)
    hwm, ru = peak_rss_mib()
    row = {"mode": args.mode, "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
           "ms_per_step": el * 1e3, "images_per_s": args.batch / el, "gflops": flops / el / 1e9,
           "peak_rss_mib": hwm, "ru_maxrss_mib": ru}
    if context != "none":
        row["context"] = context
    return {"arch": "seed-resnet34", "backend": "pytorch", "torch": torch.__version__,
            "threads": torch.get_num_threads(), "depth": args.depth, "params": n_params,
            "macs_per_image": macs, "pad": args.pad, "mkldnn": torch.backends.mkldnn.is_available(),
            "rows": [row]}


def init_params32(torch, g, shapes, gen):
    """make_golden.py's initial distributions (Glorot-uniform convolutions,
    fc weight normal(0, 0.1), biases uniform(-0.1, 0.1)), drawn in place in
    float32. g.init_params draws in float64 and would leave its temporaries
    (1.5x the float32 model at depth 64) in the peak RSS."""
    params = {}
    for name, shape in shapes.items():
        t = torch.empty(shape, dtype=torch.float32)
        if len(shape) == 4:
            o, i, kh, kw = shape
            a = (6.0 / ((i + o) * kh * kw)) ** 0.5
            t.uniform_(-a, a, generator=gen)
        elif name == g.FC_WEIGHT:
            t.normal_(0.0, 0.1, generator=gen)
        else:
            t.uniform_(-0.1, 0.1, generator=gen)
        params[name] = t
    return params


def _prod(shape):
    n = 1
    for v in shape:
        n *= v
    return n


# -------------------------------------------------------------------- parent

def run_all(args):
    """Runs every requested row in its own child process; merges the reports."""
    plan = []
    if "train" in args.modes:
        for b in args.train_batches:
            if b > 1:  # as resgo bench: no training at batch 1
                plan.append(("train", b, args.steps))
    if "infer" in args.modes:
        for b in args.infer_batches:
            plan.append(("infer", b, args.b1_steps if b == 1 else args.steps))
    if not plan:
        raise SystemExit("pytorch_bench: nothing to measure")

    env = dict(os.environ)
    for k in THREAD_ENV:
        env.setdefault(k, str(args.threads))
    rep = None
    for mode, batch, steps in plan:
        cmd = [sys.executable, os.path.abspath(__file__), "--mode", mode, "--batch", str(batch),
               "--steps", str(steps), "--warmup", str(args.warmup), "--depth", str(args.depth),
               "--threads", str(args.threads), "--pad", args.pad]
        print("pytorch_bench: %s batch %d, %d steps ..." % (mode, batch, steps), file=sys.stderr, flush=True)
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True)
        child = json.loads(res.stdout)
        if rep is None:
            rep = child
        else:
            assert child["macs_per_image"] == rep["macs_per_image"], (child["macs_per_image"], rep["macs_per_image"])
            rep["rows"].extend(child["rows"])
    rep["python"] = platform.python_version()
    rep["malloc_env"] = {k: os.environ[k] for k in MALLOC_ENV if k in os.environ}
    rep["thread_env"] = {k: env[k] for k in THREAD_ENV}
    if "OPENBLAS_CORETYPE" in os.environ:
        rep["openblas_coretype"] = os.environ["OPENBLAS_CORETYPE"]
    return rep


def print_table(rep):
    print("%s (PyTorch %s, depth %d, %d parameters, %d multiply-adds/image), %d threads, pad %s" % (
        rep["arch"], rep["torch"], rep["depth"], rep["params"], rep["macs_per_image"], rep["threads"], rep["pad"]))
    if rep.get("malloc_env"):
        print("malloc: " + " ".join("%s=%s" % kv for kv in sorted(rep["malloc_env"].items())))
    print()
    print("%-6s %6s %10s %10s %9s %10s" % ("mode", "batch", "ms/step", "images/s", "GFLOP/s", "peak RSS"))
    for r in rep["rows"]:
        print("%-6s %6d %10.1f %10.1f %9.1f %6.0f MiB" % (
            r["mode"], r["batch"], r["ms_per_step"], r["images_per_s"], r["gflops"], r["peak_rss_mib"]))


def int_list(s):
    try:
        v = [int(p) for p in s.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: want comma-separated integers" % s)
    if any(n <= 0 for n in v):
        raise argparse.ArgumentTypeError("%r: batch sizes must be positive" % s)
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--depth", type=int, default=64, help="base depth (64: the real 20,371,178-parameter model)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per row (as resgo bench)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (as resgo bench)")
    ap.add_argument("--b1-steps", type=int, default=0,
                    help="timed steps for batch-1 inference (0: 10x --steps, i.e. 100)")
    ap.add_argument("--modes", default="train,infer", help="train, infer or both")
    ap.add_argument("--train-batches", type=int_list, default=[100], help="training batch sizes")
    ap.add_argument("--infer-batches", type=int_list, default=[100, 1], help="inference batch sizes")
    ap.add_argument("--pad", choices=("fused", "golden"), default="fused",
                    help="fused: symmetric SAME padding inside conv2d; golden: F.pad then conv2d, as make_golden.py")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    # Internal: one measurement in this process.
    ap.add_argument("--mode", choices=("train", "infer"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=100, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps <= 0 or args.warmup < 0 or args.threads <= 0 or args.b1_steps < 0:
        ap.error("need --steps > 0, --warmup >= 0, --threads > 0, --b1-steps >= 0")
    if args.b1_steps == 0:
        args.b1_steps = 10 * args.steps
    if args.depth < 4 or args.depth % 4:
        ap.error("--depth %d: must be a multiple of 4, at least 4" % args.depth)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("train", "infer"):
            ap.error("--modes %r: unknown mode %r (train, infer)" % (args.modes, m))
    args.modes = modes

    if args.mode:
        for k in THREAD_ENV:  # before torch is imported
            os.environ.setdefault(k, str(args.threads))
        json.dump(run_child(args), sys.stdout)
        sys.stdout.write("\n")
        return
    rep = run_all(args)
    if args.json:
        json.dump(rep, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rep)


if __name__ == "__main__":
    main()
