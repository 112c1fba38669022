#!/usr/bin/env python3
"""One cnnlab study recipe trained in PyTorch, for the seed-spread comparison of
docs/results/pytorch_spread.md (scripts/pytorch_spread.py runs it).

The recipe is configs/models/vgg6.yaml as the study's convergence claim sets it: the first
LIMIT_TRAIN training and LIMIT_TEST test images of the CIFAR-10 binary files, a new shuffle
every epoch, RandomCrop(32, padding=4) then RandomHorizontalFlip then Normalize (as cnnlab's
data/transforms.cpp), batch 128 with the last batch kept, SGD momentum 0.9 with weight decay
5e-4 on the conv and linear weights only (layers/param_groups.cpp spares biases and norm
parameters), lr = cosine over all steps times a linear warmup from 1/3 over the first epoch
(optim/schedule.cpp), PyTorch's default initialization (which cnnlab's layers reproduce) and
BatchNorm2d(momentum 0.1, eps 1e-5). PyTorch's random streams are its own, so seed k here is
not cnnlab's seed k: the comparison is of spreads, not of runs.

Prints one JSON object per epoch: {"epoch", "train_loss", "train_acc", "test_loss", "test_acc"}.
Usage: pytorch_recipe.py CIFAR10_DIR NORM LR EPOCHS LIMIT_TRAIN LIMIT_TEST SEED THREADS
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_bench import vgg6  # noqa: E402  (the same network as the benchmark's)

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)
BATCH = 128


def read_cifar(root, files, limit):
    records = []
    for name in files:
        raw = np.fromfile(os.path.join(root, name), dtype=np.uint8).reshape(-1, 3073)
        records.append(raw)
        if sum(len(r) for r in records) >= limit:
            break
    raw = np.concatenate(records)[:limit]
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def normalize(images):
    return (images.astype(np.float32) / 255.0 - MEAN) / STD


def augment(images, rng):
    """RandomCrop(32, padding=4) on the raw pixels (zero padding), then a horizontal flip."""
    n = len(images)
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = images
    ys, xs, flips = rng.integers(0, 9, n), rng.integers(0, 9, n), rng.integers(0, 2, n)
    out = np.empty_like(images)
    for i in range(n):
        crop = padded[i, :, ys[i]:ys[i] + 32, xs[i]:xs[i] + 32]
        out[i] = crop[:, :, ::-1] if flips[i] else crop
    return out


def lr_at(step, base_lr, total_steps, warmup_steps):
    lr = base_lr * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)) / 2
    if step < warmup_steps:
        lr *= 1 / 3 + (1 - 1 / 3) * step / warmup_steps
    return lr


def evaluate(model, images, labels):
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    loss, correct = 0.0, 0
    with torch.no_grad():
        for at in range(0, len(images), 500):
            x = torch.from_numpy(normalize(images[at:at + 500]))
            y = torch.from_numpy(labels[at:at + 500])
            logits = model(x)
            loss += loss_fn(logits, y).item()
            correct += (logits.argmax(1) == y).sum().item()
    return loss / len(images), correct / len(images)


def main():
    root, norm, lr, epochs, limit_train, limit_test, seed, threads = sys.argv[1:9]
    lr, epochs, seed = float(lr), int(epochs), int(seed)
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_x, train_y = read_cifar(root, [f"data_batch_{i}.bin" for i in range(1, 6)], int(limit_train))
    test_x, test_y = read_cifar(root, ["test_batch.bin"], int(limit_test))
    model = vgg6(norm)
    decay = [p for name, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for name, p in model.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = math.ceil(len(train_x) / BATCH)
    total_steps, warmup_steps = epochs * steps_per_epoch, steps_per_epoch
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(train_x))
        loss_sum, correct = 0.0, 0
        for at in range(0, len(order), BATCH):
            index = order[at:at + BATCH]
            x = torch.from_numpy(normalize(augment(train_x[index], rng)))
            y = torch.from_numpy(train_y[index])
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, lr, total_steps, warmup_steps)
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
            correct += (logits.argmax(1) == y).sum().item()
            step += 1
        test_loss, test_acc = evaluate(model, test_x, test_y)
        print(json.dumps({"epoch": epoch, "train_loss": loss_sum / len(train_x),
                          "train_acc": correct / len(train_x), "test_loss": test_loss,
                          "test_acc": test_acc}), flush=True)


if __name__ == "__main__":
    main()
