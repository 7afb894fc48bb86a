#!/usr/bin/python3
"""Times the reference NAFNet in PyTorch eager mode (python3-torch), the peer of
bench/inference_bench.cpp. Prints one JSON object: {"median_ms": .., "p10_ms": .., "p90_ms": ..}.

usage: pytorch_eager_inference.py --width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2 --size 256
       --threads 2 --repeats 10
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from nafnet_reference import add_architecture_arguments, build  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    add_architecture_arguments(parser, width=32, enc=[2, 2, 4, 8], middle=12, dec=[2, 2, 2, 2])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    net = build(args)
    x = torch.rand(1, 3, args.size, args.size)
    times = []
    with torch.no_grad():
        net(x)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(json.dumps({"median_ms": pick(0.5), "p10_ms": pick(0.1), "p90_ms": pick(0.9)}))


if __name__ == "__main__":
    main()
