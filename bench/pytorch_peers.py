#!/usr/bin/python3
"""Times an ERN model directory run by the reference NAFNet module in python3-torch, the peers of
bench/inference_bench.cpp, as an expert would run it:
  eager          PyTorch eager mode, NCHW (the default);
  channels-last  eager mode with channels-last weights and input;
  frozen         torch.jit.freeze(torch.jit.trace(...)) of the channels-last module.
Prints one JSON object keyed by peer, then image side:
{"frozen": {"256": {"median_ms": .., "p10_ms": .., "p90_ms": ..}, ...}, ...}.

usage: pytorch_peers.py MODEL_DIR --peers eager,channels-last,frozen --sizes 256,512 --threads 2
                        --repeats 10
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from nafnet_reference import blocks, load_model_dir  # noqa: E402

PEERS = ("eager", "channels-last", "frozen")


def timed(run, x, repeats):
    times = []
    with torch.no_grad():
        run(x)  # warm-up (for a frozen module, also its profiling runs)
        run(x)
        for _ in range(repeats):
            start = time.perf_counter()
            run(x)
            times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return {"median_ms": pick(0.5), "p10_ms": pick(0.1), "p90_ms": pick(0.9)}


def time_peer(net, peer, size, repeats):
    x = torch.rand(1, net.intro.in_channels, size, size)
    if peer == "eager":
        return timed(net, x, repeats)
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    if peer == "frozen":
        with torch.no_grad():
            net = torch.jit.freeze(torch.jit.trace(net, x))
    return timed(net, x, repeats)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--peers", type=lambda text: text.split(","), default=list(PEERS))
    parser.add_argument("--sizes", type=blocks, default=[256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    unknown = [peer for peer in args.peers if peer not in PEERS]
    if unknown:
        parser.error(f"unknown peer {unknown[0]} (known: {', '.join(PEERS)})")

    torch.set_num_threads(args.threads)
    results = {}
    for peer in args.peers:
        results[peer] = {
            str(size): time_peer(load_model_dir(args.model_dir).eval(), peer, size, args.repeats)
            for size in args.sizes
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
