#!/usr/bin/python3
"""Reference NAFNet in PyTorch, with the module tree of the released implementation (so state-dict
keys match released checkpoints), used to check ERN's C++ network against it.

usage: nafnet_reference.py OUT_DIR --width 16 --enc 1,1 --middle 1 --dec 1,1 [--height 37 --width-px 53]
writes OUT_DIR/checkpoint.pth ({'params': state_dict}, as released checkpoints are) and
OUT_DIR/io.safetensors (input and output of the reference forward pass).
"""

import argparse
import json
import os
import sys

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import ern_safetensors  # noqa: E402


class LayerNorm2d(nn.Module):
    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


# ERN's block alternatives: (with LayerNorms, with channel attention); "skip" is nn.Identity.
ALTERNATIVES = {
    "naf": (True, True),
    "naf_nonorm": (False, True),
    "naf_noca": (True, False),
    "naf_lite": (False, False),
}


class NAFBlock(nn.Module):
    def __init__(self, c, dw_expand=2, ffn_expand=2, alternative="naf"):
        super().__init__()
        layer_norm, channel_attention = ALTERNATIVES[alternative]
        dw = c * dw_expand
        self.conv1 = nn.Conv2d(c, dw, 1, padding=0, stride=1, groups=1, bias=True)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, stride=1, groups=dw, bias=True)
        self.conv3 = nn.Conv2d(dw // 2, c, 1, padding=0, stride=1, groups=1, bias=True)
        self.sca = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1, padding=0, stride=1, bias=True)
        ) if channel_attention else None
        self.sg = SimpleGate()
        ffn = ffn_expand * c
        self.conv4 = nn.Conv2d(c, ffn, 1, padding=0, stride=1, groups=1, bias=True)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1, padding=0, stride=1, groups=1, bias=True)
        self.norm1 = LayerNorm2d(c) if layer_norm else nn.Identity()
        self.norm2 = LayerNorm2d(c) if layer_norm else nn.Identity()
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.norm1(inp)
        x = self.conv2(self.conv1(x))
        x = self.sg(x)
        if self.sca is not None:
            x = x * self.sca(x)
        x = self.conv3(x)
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    def __init__(self, img_channel=3, width=16, middle_blk_num=1, enc_blk_nums=(), dec_blk_nums=(),
                 genotype=None):
        """genotype: one alternative per encoder and decoder block, in order (None: all naf)."""
        super().__init__()
        searchable = iter(genotype or ["naf"] * (sum(enc_blk_nums) + sum(dec_blk_nums)))

        def block(c):
            alternative = next(searchable)
            return nn.Identity() if alternative == "skip" else NAFBlock(c, alternative=alternative)

        self.intro = nn.Conv2d(img_channel, width, 3, padding=1, stride=1, groups=1, bias=True)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1, stride=1, groups=1, bias=True)
        self.encoders, self.decoders = nn.ModuleList(), nn.ModuleList()
        self.ups, self.downs = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[block(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[block(chan) for _ in range(num)]))
        self.padder_size = 2 ** len(self.encoders)

    def forward(self, inp):
        _, _, h, w = inp.shape
        pad_h = (self.padder_size - h % self.padder_size) % self.padder_size
        pad_w = (self.padder_size - w % self.padder_size) % self.padder_size
        inp = F.pad(inp, (0, pad_w, 0, pad_h))
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[:, :, :h, :w]


def blocks(text):
    return [int(v) for v in text.split(",")]


def add_architecture_arguments(parser, width, enc, middle, dec):
    """--width --enc --middle --dec, as ernctl spells them."""
    parser.add_argument("--width", type=int, default=width)
    parser.add_argument("--enc", type=blocks, default=enc)
    parser.add_argument("--middle", type=int, default=middle)
    parser.add_argument("--dec", type=blocks, default=dec)


def build(args):
    return NAFNet(3, args.width, args.middle, args.enc, args.dec).eval()


def load_model_dir(directory):
    """An ERN model directory (model.json + weights.safetensors) as the reference module."""
    with open(os.path.join(directory, "model.json")) as f:
        arch = json.load(f)["architecture"]
    net = NAFNet(arch.get("image_channels", 3), arch["width"], arch["middle_blocks"],
                 arch["encoder_blocks"], arch["decoder_blocks"], arch.get("genotype"))
    weights = ern_safetensors.read(os.path.join(directory, "weights.safetensors"))
    net.load_state_dict({name: torch.from_numpy(array.copy()) for name, array in weights.items()})
    return net.eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    add_architecture_arguments(parser, width=16, enc=[1, 1], middle=1, dec=[1, 1])
    parser.add_argument("--height", type=int, default=37)
    parser.add_argument("--width-px", type=int, default=53)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    net = build(args)
    with torch.no_grad():
        # Every tensor random, beta and gamma included (they start at zero, which would hide
        # the block bodies from the comparison).
        for name, p in net.named_parameters():
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() > 1 else 0.5))
        x = torch.rand(1, 3, args.height, args.width_px)
        y = net(x)
    os.makedirs(args.out_dir, exist_ok=True)
    torch.save({"params": net.state_dict()}, os.path.join(args.out_dir, "checkpoint.pth"))
    ern_safetensors.write(
        os.path.join(args.out_dir, "io.safetensors"), [("input", x.numpy()), ("output", y.numpy())]
    )


if __name__ == "__main__":
    main()
