"""Writes the model card (README.md) of a shipped model directory from what its training recorded:
the recipe, the data list's hash, the val curve (with a plot), and `ernctl eval --json` results on
the val and holdout splits beside OpenCV's NLM with its strength tuned on val.

usage: model_card.py --model models/nafnet-base --recipe configs/train/nafnet-base.yaml
           --curve out/train/nafnet-base/val-curve.tsv --val val.json --holdout holdout.json
           [--title TEXT] [--summary TEXT] [--command TEXT]... [--status TEXT]
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def machine():
    model, cores, flags = platform.processor() or "unknown CPU", os.cpu_count(), set()
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    isa = [name for name in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if name in flags]
    return f"{model}, {cores} cores ({', '.join(isa) or 'no AVX2'}), {platform.system()}"


def read_curve(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            step, psnr, ssim, seconds = line.split()
            rows.append((int(step), float(psnr), float(ssim), float(seconds)))
    return rows


def gain_over_last_fifth(rows):
    last = rows[-1]
    start = rows[0]
    for row in rows:
        if row[0] <= 0.8 * last[0]:
            start = row
    return last[1] - start[1], start[0]


def plot_curve(rows, sigma, path):
    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    axis.plot([r[0] for r in rows], [r[1] for r in rows], marker="o", markersize=3)
    axis.set_xlabel("training step")
    axis.set_ylabel(f"val PSNR at sigma {sigma:g} (dB)")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def quality_table(results):
    lines = ["| sigma | noisy PSNR / SSIM | NLM (h = f x sigma) PSNR / SSIM | model PSNR / SSIM "
             "| model - NLM |",
             "| --- | --- | --- | --- | --- |"]
    for sigma in sorted(results, key=float):
        r = results[sigma]
        lines.append(
            f"| {sigma} | {r['noisy']['psnr']:.2f} / {r['noisy']['ssim']:.4f} "
            f"| {r['nlm']['psnr']:.2f} / {r['nlm']['ssim']:.4f} (f = {r['nlm']['strength_factor']:.2f}) "
            f"| **{r['model']['psnr']:.2f} / {r['model']['ssim']:.4f}** "
            f"| {r['model']['psnr'] - r['nlm']['psnr']:+.2f} dB / "
            f"{r['model']['ssim'] - r['nlm']['ssim']:+.4f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--curve", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--holdout", required=True)
    parser.add_argument("--title", default=None)
    parser.add_argument("--summary", default="")
    parser.add_argument("--status", default="")
    parser.add_argument("--command", action="append", default=[])
    args = parser.parse_args()

    with open(os.path.join(args.model, "model.json"), encoding="utf-8") as f:
        model = json.load(f)
    meta, arch = model["metadata"], model["architecture"]
    with open(args.recipe, encoding="utf-8") as f:
        recipe = f.read()
    val = json.load(open(args.val, encoding="utf-8"))
    holdout = json.load(open(args.holdout, encoding="utf-8"))
    # The curve may have run on past the exported weights (training goes on): stop at their step.
    steps = meta.get("provenance", {}).get("steps")
    rows = [r for r in read_curve(args.curve) if steps is None or r[0] <= steps]
    gain, from_step = gain_over_last_fifth(rows)
    plot_curve(rows, 25, os.path.join(args.model, "val-curve.png"))
    data_list = os.path.join(ROOT, "scripts", "data-split.tsv")
    splits = {}
    with open(data_list, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                splits[line.split("\t")[0]] = splits.get(line.split("\t")[0], 0) + 1
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()

    title = args.title or os.path.basename(os.path.normpath(args.model))
    hours = rows[-1][3] / 3600
    out = [f"# {title}", ""]
    if args.status:
        out += [f"**Status: {args.status}**", ""]
    if args.summary:
        out += [args.summary, ""]
    out += [
        "| | |", "| --- | --- |",
        f"| architecture | NAFNet, width {arch['width']}, encoder {arch['encoder_blocks']}, "
        f"middle {arch['middle_blocks']}, decoder {arch['decoder_blocks']} |",
        f"| genotype | {', '.join(arch.get('genotype') or []) or 'every block naf'} |",
        f"| parameters | {meta['params']:,} |",
        f"| G MACs at 256x256 | {meta['gmacs_256']:.3f} |",
        f"| weights | {meta.get('weights_dtype', 'F32')} safetensors (loaded as fp32) |",
        f"| training steps | {rows[-1][0]:,} |",
        f"| elapsed training time | {hours:.1f} h |",
        f"| machine | {machine()} |",
        f"| data | scripts/data-split.tsv sha256 `{sha256_of(data_list)}` "
        f"({splits.get('train', 0)} train, {splits.get('val', 0)} val, "
        f"{splits.get('holdout', 0)} holdout photographs) |",
        f"| card written | {datetime.date.today().isoformat()}, commit {commit or 'unknown'} |",
        "",
        "## Quality", "",
        "Mean PSNR (dB) / SSIM over whole photographs with Gaussian noise of a fixed seed; OpenCV's "
        "non-local means with its strength tuned on val (configs/nlm.yaml). Val chose; holdout only "
        "reports.", "",
        f"Holdout ({holdout['25']['images']} photographs):", "", quality_table(holdout), "",
        f"Val ({val['25']['images']} photographs):", "", quality_table(val), "",
        "## Val curve (sigma 25)", "",
        f"Gain over the last fifth of training (step {from_step:,} to {rows[-1][0]:,}): "
        f"**{gain:+.3f} dB**.", "", "![val curve](val-curve.png)", "",
        "| step | PSNR | SSIM |", "| --- | --- | --- |",
    ]
    out += [f"| {r[0]:,} | {r[1]:.3f} | {r[2]:.4f} |" for r in rows]
    out += ["", "## Recipe", "", "```yaml", recipe.rstrip(), "```", ""]
    if args.command:
        out += ["## Reproduce", "", "```sh", *args.command, "```", ""]
    with open(os.path.join(args.model, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
