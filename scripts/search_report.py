"""A search's report.json, or a sweep's front, as one self-contained HTML page (figures inline as
PNG data URIs).

usage: search_report.py report REPORT_JSON -o REPORT_HTML
       search_report.py front FRONT_JSON -o FRONT_HTML   (ernctl search front --json)

Figures (matplotlib): alpha's probabilities per block over the steps, each block's normalized
entropy, expected latency, the losses of the weights and of alpha, the derived genotype drawn as the
U-Net. A table compares the baseline NAFNet with the derived ERN-Net. A front page plots a sweep's
measured latency against PSNR at sigma 25, its Pareto-optimal jobs joined.
"""

import argparse
import base64
import html
import io
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

COLOURS = {"naf": "#1f77b4", "naf_nonorm": "#ff7f0e", "naf_noca": "#2ca02c", "naf_lite": "#9467bd",
           "skip": "#7f7f7f"}


def figure_tag(figure, alt):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def block_names(architecture):
    names = []
    for level, count in enumerate(architecture["encoder_blocks"]):
        names += [f"enc{level}.{j}" for j in range(count)]
    for level, count in enumerate(architecture["decoder_blocks"]):
        names += [f"dec{level}.{j}" for j in range(count)]
    return names


def searched_history(report):
    return [entry for entry in report["search"]["history"] if "probabilities" in entry]


def probabilities_figure(report, names, alternatives):
    history = searched_history(report)
    columns = 4
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 2.2 * rows), sharex=True, sharey=True,
                                squeeze=False)
    steps = [entry["step"] for entry in history]
    for b, name in enumerate(names):
        axis = axes[b // columns][b % columns]
        for j, alternative in enumerate(alternatives):
            axis.plot(steps, [entry["probabilities"][b][j] for entry in history],
                      color=COLOURS.get(alternative), label=alternative, linewidth=1.2)
        axis.set_title(name, fontsize=9)
        axis.set_ylim(-0.02, 1.02)
    for b in range(len(names), rows * columns):
        axes[b // columns][b % columns].axis("off")
    axes[0][0].legend(fontsize=7, loc="upper left")
    figure.suptitle("architecture probabilities p = softmax(α/τ) per block")
    figure.supxlabel("step")
    return figure_tag(figure, "alpha probabilities per block")


def entropy_figure(report, names):
    history = searched_history(report)
    steps = [entry["step"] for entry in history]
    figure, axis = plt.subplots(figsize=(10, 3.6))
    for b, name in enumerate(names):
        values = []
        for entry in history:
            p = entry["probabilities"][b]
            h = -sum(x * math.log(x) for x in p if x > 0)
            values.append(h / math.log(len(p)) if len(p) > 1 else 0.0)
        axis.plot(steps, values, linewidth=0.9, label=name)
    axis.plot([e["step"] for e in report["search"]["history"]],
              [e["normalized_entropy"] for e in report["search"]["history"]], color="black",
              linewidth=2.2, label="mean")
    axis.set_xlabel("step")
    axis.set_ylabel("H(p) / log K")
    axis.set_title("normalized entropy per block (0 decided, 1 undecided)")
    axis.legend(fontsize=6, ncol=6)
    return figure_tag(figure, "normalized entropy per block")


def latency_and_loss_figures(report):
    history = report["search"]["history"]
    steps = [e["step"] for e in history]
    latency, axis = plt.subplots(figsize=(10, 3.2))
    axis.plot(steps, [e["expected_latency_ms"] for e in history], color="#d62728")
    axis.axhline(report["search"]["lut_latency_ms_baseline"], color="gray", linestyle="--",
                 label="baseline NAFNet (table)")
    axis.set_xlabel("step")
    axis.set_ylabel("ms")
    axis.set_title("expected latency E[lat] = Σ p·LAT on the lookup table")
    axis.legend()
    losses, axis = plt.subplots(figsize=(10, 3.2))
    axis.plot(steps, [e["reconstruction_loss"] for e in history], label="weights (PSNR loss)")
    searched = [e for e in history if e["stage"] == "SEARCH"]
    axis.plot([e["step"] for e in searched], [e["loss"] for e in searched],
              label="α (reconstruction + latency + entropy)")
    axis.set_xlabel("step")
    axis.set_title("losses")
    axis.legend()
    return figure_tag(latency, "expected latency") + figure_tag(losses, "losses")


def genotype_figure(report):
    architecture = report["derived"]["architecture"]
    genotype = report["genotype"]
    encoders, decoders = architecture["encoder_blocks"], architecture["decoder_blocks"]
    levels = len(encoders)
    figure, axis = plt.subplots(figsize=(12, 1.2 + 1.1 * levels))
    index = 0

    def draw(x, y, label, colour):
        axis.add_patch(FancyBboxPatch((x - 0.42, y - 0.3), 0.84, 0.6, boxstyle="round,pad=0.02",
                                      facecolor=colour, edgecolor="black", alpha=0.85))
        axis.text(x, y, label, ha="center", va="center", fontsize=7, color="white")

    for level, count in enumerate(encoders):  # down the left side
        for j in range(count):
            draw(j, -level, genotype[index], COLOURS.get(genotype[index], "black"))
            index += 1
    middle_x = max(max(encoders), 1) + 1
    draw(middle_x, -levels, f"middle ×{architecture['middle_blocks']}", "#444444")
    for level, count in enumerate(decoders):  # back up the right side, deepest first
        y = -(levels - 1 - level)
        for j in range(count):
            draw(middle_x + 2 + j, y, genotype[index], COLOURS.get(genotype[index], "black"))
            index += 1
    for level in range(levels):
        axis.annotate("", xy=(middle_x + 1.5, -level), xytext=(max(encoders) + 0.1, -level),
                      arrowprops=dict(arrowstyle="->", color="#bbbbbb", linestyle="--"))
    axis.set_xlim(-0.8, middle_x + 3 + max(decoders))
    axis.set_ylim(-levels - 0.7, 0.7)
    axis.set_yticks([-level for level in range(levels + 1)],
                    [f"level {level}" for level in range(levels)] + ["middle"])
    axis.set_xticks([])
    axis.set_title("derived ERN-Net: encoder (left, down), middle, decoder (right, up); "
                   "dashed: skip connections")
    for side in ("top", "right", "bottom"):
        axis.spines[side].set_visible(False)
    return figure_tag(figure, "derived genotype")


def comparison_table(report):
    baseline, derived = report["baseline"], report["derived"]

    def memory(network):
        value = network.get("peak_memory_bytes")
        return f"{value / 2**20:.1f} MiB" if value else "n/a"

    rows = [("parameters", f"{baseline['params']:,}", f"{derived['params']:,}"),
            ("G MACs at 256²", f"{baseline['gmacs_256']:.3f}", f"{derived['gmacs_256']:.3f}"),
            (f"latency on {report['device']} (median, {baseline.get('latency_source', '')})",
             f"{baseline['latency_ms']:.2f} ms", f"{derived['latency_ms']:.2f} ms"),
            ("peak memory", memory(baseline), memory(derived))]
    for sigma in baseline["psnr"]:
        rows.append((f"PSNR / SSIM at σ={sigma} (val)",
                     f"{baseline['psnr'][sigma]:.2f} dB / {baseline['ssim'][sigma]:.4f}",
                     f"{derived['psnr'][sigma]:.2f} dB / {derived['ssim'][sigma]:.4f}"))
    body = "".join(f"<tr><th>{html.escape(a)}</th><td>{b}</td><td>{c}</td></tr>"
                   for a, b, c in rows)
    return ("<table><tr><th></th><th>baseline NAFNet</th><th>ERN-Net</th></tr>" + body +
            "</table>")


def front_page(front):
    measured = [job for job in front["jobs"] if "latency_ms" in job]
    if not measured:
        raise ValueError(f"sweep {front['sweep']}: no finished job to plot yet")
    figure, axis = plt.subplots(figsize=(8, 5))
    for job in measured:
        axis.scatter(job["latency_ms"], job["psnr_25"], s=50, zorder=3,
                     color="#d62728" if job["pareto"] else "gray")
        axis.annotate(f"λ={job['lambda_latency']:g}", (job["latency_ms"], job["psnr_25"]),
                      textcoords="offset points", xytext=(5, 5), fontsize=8)
    optimal = sorted((job for job in measured if job["pareto"]), key=lambda job: job["latency_ms"])
    axis.plot([job["latency_ms"] for job in optimal], [job["psnr_25"] for job in optimal],
              color="#d62728", label="Pareto front")
    axis.set_xlabel("measured latency of the derived network (ms)")
    axis.set_ylabel("PSNR at σ=25 (dB, val)")
    axis.set_title(f"sweep {front['sweep']}: latency against quality")
    axis.legend()
    rows = "".join(
        f"<tr><td>{html.escape(job['id'])}</td><td>{job['state']}</td>"
        f"<td>{job['lambda_latency']:g}</td><td>{job.get('latency_ms', float('nan')):.3f}</td>"
        f"<td>{job.get('psnr_25', float('nan')):.3f}</td>"
        f"<td>{'*' if job.get('pareto') else ''}</td></tr>" for job in front["jobs"])
    table = ("<table><tr><th>job</th><th>state</th><th>λ latency</th><th>latency (ms)</th>"
             "<th>PSNR σ=25</th><th>Pareto</th></tr>" + rows + "</table>")
    return (f"Sweep {front['sweep']}",
            [f"<h1>Sweep {html.escape(front['sweep'])}</h1>",
             figure_tag(figure, "sweep Pareto front"), table])


def report_page(report):
    names = block_names(report["spec"]["architecture"])
    alternatives = report["spec"]["alternatives"]
    parts = [f"<h1>Search report: {html.escape(report['name'])}</h1>",
             f"<p>device {html.escape(report['device'])}, latency at "
             f"{report['latency_size'][0]}×{report['latency_size'][1]}; final mean normalized "
             f"entropy {report['search']['final_normalized_entropy']:.3f}; genotype "
             f"<code>{html.escape(','.join(report['genotype']))}</code></p>",
             "<h2>Baseline against ERN-Net</h2>", comparison_table(report),
             "<h2>Derived network</h2>", genotype_figure(report)]
    if searched_history(report):
        parts += ["<h2>Architecture probabilities</h2>",
                  probabilities_figure(report, names, alternatives),
                  "<h2>Entropy</h2>", entropy_figure(report, names)]
    else:
        parts.append("<p>This report's history has no per-block probabilities (a search made "
                     "before they were recorded).</p>")
    parts += ["<h2>Latency and losses</h2>", latency_and_loss_figures(report)]
    return f"ERN search {report['name']}", parts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["report", "front"])
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    with open(args.input) as file:
        title, parts = (report_page if args.kind == "report" else front_page)(json.load(file))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;"
             "text-align:left}")
    # Once loaded, the page records how many of its figures the browser decoded (checked headless
    # by scripts/check-report-in-browser.sh).
    count_rendered = ("<script>addEventListener('load',()=>{const i=[...document.images];"
                      "document.body.dataset.figures=i.length;document.body.dataset.rendered="
                      "i.filter(x=>x.complete&&x.naturalWidth>0).length;});</script>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>"
            + "\n".join(parts) + count_rendered + "</body></html>\n")
    temporary = args.output + ".tmp"
    with open(temporary, "w") as file:
        file.write(page)
    os.replace(temporary, args.output)
    print(args.output)


if __name__ == "__main__":
    try:
        main()
    except (KeyError, ValueError, OSError) as error:
        print(f"search_report: {error}", file=sys.stderr)
        sys.exit(1)
