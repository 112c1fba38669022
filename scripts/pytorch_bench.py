#!/usr/bin/env python3
"""PyTorch reference timings for scripts/bench_vs_pytorch.sh.

Builds the same networks as configs/models/{vgg6,resnet20}.yaml, times full training
steps (forward, backward, SGD step) and evaluation on synthetic input after warm-up,
in the default and the channels_last memory layout, and prints one JSON object per
line: {"model", "norm", "batch", "layout", "train_images_per_s", "eval_images_per_s",
"peak_rss_mb"}. Run one configuration per process so peak memory is its own.
PRECISION bf16 runs the forward passes under torch.autocast('cpu', dtype=torch.bfloat16),
PyTorch's CPU mixed precision (oneDNN's bf16 kernels; AMX where the CPU has it).
Usage: pytorch_bench.py MODEL NORM BATCH LAYOUT STEPS THREADS [PRECISION]
"""
import contextlib
import json
import resource
import sys
import time

import torch
import torch.nn as nn


def vgg6(norm):
    layers, cin = [], 3
    for cout in (32, 32, "M", 64, 64, "M", 128, 128, "M"):
        if cout == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers.append(nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
        cin = cout
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2048, 10))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, norm):
        super().__init__()
        bn = (lambda c: nn.BatchNorm2d(c)) if norm == "batch" else (lambda c: nn.Identity())
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=norm == "none"), bn(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=norm == "none"), bn(cout))
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=norm == "none"), bn(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


def resnet20(norm):
    layers = [nn.Conv2d(3, 16, 3, padding=1, bias=norm == "none")]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(16))
    layers.append(nn.ReLU(inplace=True))
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(Block(cin, cout, 2 if stage > 0 and block == 0 else 1, norm))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main():
    model_name, norm, batch, layout, steps, threads = sys.argv[1:7]
    precision = sys.argv[7] if len(sys.argv) > 7 else "fp32"
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" \
        else contextlib.nullcontext
    batch, steps, threads = int(batch), int(steps), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = (vgg6 if model_name == "vgg6" else resnet20)(norm)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(batch, 3, 32, 32).to(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    warmup = max(2, steps // 10)
    train_times = []
    model.train()
    for i in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if i >= warmup:
            train_times.append(time.perf_counter() - t)
    eval_times = []
    model.eval()
    with torch.no_grad():
        for i in range(warmup + steps):
            t = time.perf_counter()
            with autocast():
                model(x)
            if i >= warmup:
                eval_times.append(time.perf_counter() - t)
    print(json.dumps({
        "model": model_name, "norm": norm, "batch": batch, "layout": layout, "precision": precision,
        "train_images_per_s": batch / median(train_times),
        "eval_images_per_s": batch / median(eval_times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
