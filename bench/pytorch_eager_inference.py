#!/usr/bin/python3
"""Times an ERN model directory run by the reference NAFNet module in PyTorch eager mode
(python3-torch), the peer of bench/inference_bench.cpp. Prints one JSON object keyed by image
side: {"256": {"median_ms": .., "p10_ms": .., "p90_ms": ..}, ...}.

usage: pytorch_eager_inference.py MODEL_DIR --sizes 256,512 --threads 2 --repeats 10
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from nafnet_reference import blocks, load_model_dir  # noqa: E402


def time_forward(net, size, repeats):
    x = torch.rand(1, 3, size, size)
    times = []
    with torch.no_grad():
        net(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return {"median_ms": pick(0.5), "p10_ms": pick(0.1), "p90_ms": pick(0.9)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--sizes", type=blocks, default=[256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    net = load_model_dir(args.model_dir)
    print(json.dumps({str(size): time_forward(net, size, args.repeats) for size in args.sizes}))


if __name__ == "__main__":
    main()
