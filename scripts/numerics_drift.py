#!/usr/bin/python3
"""How far cnnlab's fp32 training drifts from an exact (float64) run, beside PyTorch's fp32.

The small BN net of configs/models/small_bn.yaml (16-16-M-32-32-M, BN + ReLU after every
conv) is trained for STEPS steps of SGD (momentum 0.9, constant lr) from the same initial
weights (PyTorch's default init, seed 0, saved as safetensors for cnnlab's state dict) on
the same CIFAR-10 batches (the first STEPS*128 images of data_batch_1, normalised, no
augmentation), by:
  cnnlab fp32      build/tests/numerics_trajectory, per model.conv_algorithm
  torch fp32       default kernels (oneDNN), and with torch.backends.mkldnn disabled
  torch float64    the reference
and prints each run's relative loss error |loss - loss64| / loss64 per step, with the
worst over the first 5 steps and over all of them (docs/numerics.md has the figures).

  CIFAR10_DIR=/work/shared/data/cifar-10-batches-bin /usr/bin/python3 scripts/numerics_drift.py \
      [--lr 0.01 0.05] [--steps 20] [--seeds 5] [--algorithms auto im2col] [--json out.json]
      [--gradients] [--reference earlier.json]

--reference takes PyTorch's trajectories (float64 and fp32) from an earlier run's --json with
the same steps, seeds and learning rates instead of computing them again (they are most of
the time; only cnnlab's change between builds).

--gradients also compares the first step's parameter gradients, per tensor, with float64's
(relative L2 error): where an error starts, before the trajectory amplifies it.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]
BATCH = 128
TORCH_RUNS = ("torch fp32 (oneDNN)", "torch fp32 (native)")


def small_bn_net():
    """The same layer list (and so the same state-dict names) as configs/models/small_bn.yaml."""
    layers, channels = [], 3
    for stage in (16, 32):
        for _ in range(2):
            layers += [nn.Conv2d(channels, stage, 3, padding=1, bias=False), nn.BatchNorm2d(stage),
                       nn.ReLU()]
            channels = stage
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(32 * 8 * 8, 10)]
    return nn.Sequential(*layers)


def save_safetensors(path, tensors):
    """The safetensors format by hand (the Python package is not installed here)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def cifar_batches(steps):
    root = os.environ.get("CIFAR10_DIR", os.path.join(ROOT, "data", "cifar-10-batches-bin"))
    raw = np.fromfile(os.path.join(root, "data_batch_1.bin"), dtype=np.uint8).reshape(-1, 3073)
    raw = raw[: steps * BATCH]
    labels = torch.from_numpy(raw[:, 0].astype(np.int64)).reshape(steps, BATCH)
    # cnnlab's normalisation in float32: (pixel / 255 - mean) / std
    pixels = torch.from_numpy(raw[:, 1:].astype(np.float32)).reshape(-1, 3, 32, 32) / 255.0
    mean = torch.tensor(MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(STD).reshape(1, 3, 1, 1)
    images = ((pixels - mean) / std).reshape(steps, BATCH, 3, 32, 32)
    return images.contiguous(), labels.contiguous()


def torch_trajectory(init, images, labels, lr, dtype, mkldnn):
    net = small_bn_net().to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in init.items()})
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    losses = []
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        for s in range(images.shape[0]):
            loss = nn.functional.cross_entropy(net(images[s].to(dtype)), labels[s])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
    return losses


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype=dtype).copy()).reshape(info["shape"])
    return out


def torch_gradients(init, images, labels, dtype, mkldnn):
    net = small_bn_net().to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in init.items()})
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        nn.functional.cross_entropy(net(images[0].to(dtype)), labels[0]).backward()
    return {name: p.grad.double() for name, p in net.named_parameters()}


def gradient_report(binary, init, images, labels, init_path, batches_path, algorithms, tmp):
    exact = torch_gradients(init, images, labels, torch.float64, True)
    runs = {"torch oneDNN": torch_gradients(init, images, labels, torch.float32, True),
            "torch native": torch_gradients(init, images, labels, torch.float32, False)}
    for algorithm in algorithms:
        path = os.path.join(tmp, f"grad_{algorithm}.safetensors")
        cnnlab_trajectory(binary, init_path, batches_path, 0.01, algorithm, path)
        runs[f"cnnlab {algorithm}"] = {k: v.double() for k, v in load_safetensors(path).items()}
    print("\nfirst step's gradients: relative L2 error against float64")
    print(f"{'parameter':12s} " + " ".join(f"{name:>15s}" for name in runs))
    for name, reference in exact.items():
        errors = [float((run[name] - reference).norm() / reference.norm()) for run in runs.values()]
        print(f"{name:12s} " + " ".join(f"{e:15.2e}" for e in errors))


def cnnlab_trajectory(binary, init_path, batches_path, lr, algorithm, gradients=None):
    config = os.path.join(ROOT, "configs", "models", "small_bn.yaml")
    extra = [gradients] if gradients else []
    out = subprocess.run([binary, config, init_path, batches_path, *extra, f"optim.lr={lr}",
                          f"model.conv_algorithm={algorithm}"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)["losses"]


def relative_errors(losses, exact):
    return [abs(a - b) / abs(b) for a, b in zip(losses, exact)]


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-12)))))


def print_summary(lr, entry):
    """Per run: the worst step of each window, as a geometric mean over the init seeds (one
    trajectory is luck: a max-pool near-tie or a ReLU at 0 that rounding flips changes a
    gradient by far more than rounding does), and its ratio to PyTorch fp32's."""
    print(f"\nlr {lr}: worst relative loss error in the window, geometric mean over "
          f"{len(entry['float64'])} init seeds (ratio to torch oneDNN / native)")
    base = {}
    for name, run in entry.items():
        if name == "float64":
            continue
        windows = {w: geometric_mean([max(e[:w]) for e in run["errors"]]) for w in (5, len(run["errors"][0]))}
        run["drift"] = {f"first_{w}": v for w, v in windows.items()}
        if name.startswith("torch"):
            base[name] = windows
        ratios = "  ".join(f"{v:.2e} ({v / base['torch fp32 (oneDNN)'][w]:.1f}x / {v / base['torch fp32 (native)'][w]:.1f}x)"
                           for w, v in windows.items()) if len(base) == 2 else \
            "  ".join(f"{v:.2e}" for v in windows.values())
        print(f"  {name:22s} steps 1-5, 1-{len(run['errors'][0])}: {ratios}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--algorithms", nargs="+", default=["auto", "im2col"])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "tests", "numerics_trajectory"))
    parser.add_argument("--seeds", type=int, default=5, help="initial weights from N seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of them")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = its default)")
    parser.add_argument("--json", help="also write every trajectory and error here")
    parser.add_argument("--reference", help="PyTorch's trajectories from an earlier --json")
    parser.add_argument("--gradients", action="store_true", help="compare the first step's gradients too")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reference = None
    if args.reference:
        with open(args.reference) as f:
            reference = json.load(f)
        assert reference["steps"] == args.steps and reference.get("first_seed", 0) == args.first_seed \
            and reference["seeds"] >= args.seeds, f"{args.reference}: other steps or seeds"
    images, labels = cifar_batches(args.steps)
    report = {"steps": args.steps, "seeds": args.seeds, "first_seed": args.first_seed, "torch": torch.__version__, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        batches_path = os.path.join(tmp, "batches.safetensors")
        save_safetensors(batches_path, {"images": images, "labels": labels})
        for lr in args.lr:
            entry = report["runs"].setdefault(str(lr), {})
            for index, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
                torch.manual_seed(seed)
                init = small_bn_net().state_dict()
                init_path = os.path.join(tmp, f"init{seed}.safetensors")
                save_safetensors(init_path, init)
                if args.gradients and index == 0 and lr == args.lr[0]:
                    gradient_report(args.binary, init, images, labels, init_path, batches_path,
                                    args.algorithms, tmp)
                if reference:
                    earlier = reference["runs"][str(lr)]
                    exact = earlier["float64"][index]
                    runs = {name: earlier[name]["losses"][index] for name in TORCH_RUNS}
                else:
                    exact = torch_trajectory(init, images, labels, lr, torch.float64, True)
                    runs = {TORCH_RUNS[0]: torch_trajectory(init, images, labels, lr, torch.float32, True),
                            TORCH_RUNS[1]: torch_trajectory(init, images, labels, lr, torch.float32, False)}
                for algorithm in args.algorithms:
                    runs[f"cnnlab {algorithm}"] = cnnlab_trajectory(args.binary, init_path, batches_path, lr, algorithm)
                print(f"\nlr {lr}, init seed {seed}: float64 losses " + " ".join(f"{x:.4f}" for x in exact))
                print(f"{'run':22s} {'max 1-5':>9s} {'max 1-20':>9s}  per-step relative loss error")
                entry.setdefault("float64", []).append(exact)
                for name, losses in runs.items():
                    errors = relative_errors(losses, exact)
                    print(f"{name:22s} {max(errors[:5]):9.2e} {max(errors):9.2e}  " + " ".join(f"{e:.1e}" for e in errors))
                    run = entry.setdefault(name, {"losses": [], "errors": []})
                    run["losses"].append(losses)
                    run["errors"].append(errors)
            print_summary(lr, entry)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
