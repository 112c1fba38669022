#!/usr/bin/env python3
"""The data-parallel cost model of docs/scaling.md, printed as its table.

T_step(N) = T_compute + T_grad(N) + T_syncbn(N), no overlap (the pessimistic case):
  T_grad(N)   = sum over buckets of 2(N-1) l + 2(N-1)/N bytes_b / bandwidth   (ring allreduce)
  T_syncbn(N) = BN layers * 2 * ceil(log2 N) * l                              (syncbatch only)
Inputs are the measured gradient bytes, buckets and step times (scripts/bench_mpi.sh).
Usage: python3 scripts/scaling_model.py
"""
import math

# net: (gradient bytes, buckets of 256 KB, BN layers, measured step ms at batch 128 on
# 1 rank x 2 threads of the AMD EPYC (Zen 4) this was written on)
NETS = {"vgg6": (1_231_784, 6, 6, 130.8), "ResNet-20": (1_089_896, 6, 19, 178.6)}
LINKS = {"10GbE": (10e9, 30e-6), "25GbE": (25e9, 20e-6), "100GbE": (100e9, 10e-6)}
NODES = (4, 16, 64)
FAST_NODE = 8  # a 16-core node: the same per-rank batch 8x faster


def efficiency(compute_s, grad_bytes, buckets, bn_layers, nodes, link, sync):
    bits_per_s, latency = LINKS[link]
    bandwidth = 0.9 * bits_per_s / 8
    per_bucket = grad_bytes / buckets
    t_grad = buckets * (2 * (nodes - 1) * latency
                        + 2 * (nodes - 1) / nodes * per_bucket / bandwidth)
    t_sync = bn_layers * 2 * math.ceil(math.log2(nodes)) * latency if sync else 0.0
    return compute_s / (compute_s + t_grad + t_sync)


print("| net | T_compute | nodes | " + " | ".join(LINKS) + " |")
print("|---|---|---|" + "---|" * len(LINKS))
for net, (grad_bytes, buckets, bn_layers, step_ms) in NETS.items():
    for compute_ms in (step_ms, step_ms / FAST_NODE):
        for nodes in NODES:
            cells = []
            for link in LINKS:
                plain = efficiency(compute_ms / 1e3, grad_bytes, buckets, bn_layers, nodes, link, False)
                sync = efficiency(compute_ms / 1e3, grad_bytes, buckets, bn_layers, nodes, link, True)
                cells.append(f"{plain:.2f} / {sync:.2f}")
            print(f"| {net} | {compute_ms:.0f} ms | {nodes} | " + " | ".join(cells) + " |")
