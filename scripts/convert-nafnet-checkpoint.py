#!/usr/bin/python3
"""Converts a NAFNet checkpoint as released (a torch.save'd dict with the weights under `params`)
into safetensors, which ERN reads without Python. LibTorch's C++ unpickler cannot read these
files (they hold a Python OrderedDict), hence this step; `ernctl model import-nafnet` calls it.

usage: convert-nafnet-checkpoint.py CHECKPOINT OUTPUT.safetensors
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ern_safetensors  # noqa: E402


def state_dict_of(checkpoint):
    if not isinstance(checkpoint, dict):
        raise ValueError("not a dict of tensors (expected a torch.save'd dict)")
    for key in ("params", "params_ema", "state_dict"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    return checkpoint


def main():
    if len(sys.argv) != 3:
        print("usage: convert-nafnet-checkpoint.py CHECKPOINT OUTPUT.safetensors", file=sys.stderr)
        return 2
    source, target = sys.argv[1], sys.argv[2]
    try:
        import torch

        checkpoint = torch.load(source, map_location="cpu")
        state = state_dict_of(checkpoint)
        tensors = []
        for name, value in state.items():
            if not torch.is_tensor(value):
                raise ValueError(f"entry '{name}' is not a tensor")
            if name.startswith("module."):  # saved from a DataParallel wrapper
                name = name[len("module."):]
            tensors.append((name, value.detach().to(torch.float32).numpy()))
        if not tensors:
            raise ValueError("holds no tensors")
        ern_safetensors.write(target, tensors)
    except Exception as error:  # one line for the CLI, whatever went wrong
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{source}: cannot convert: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
