"""Copies the photographs listed in scripts/data-split.tsv from Debian packages into
TARGET/<split>/<name>, downscaling sources longer than 2048 pixels (Lanczos, stored as PNG).

Idempotent and fast when the data are already there: an image is only written when it is missing.
Every source is checked against the SHA-256 in the list before it is used, so the same list always
yields the same pixels. Nothing is downloaded.
"""
import argparse
import hashlib
import os
import shutil
import sys

from PIL import Image

MAX_SIDE = 2048


def read_list(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6:
                sys.exit(f"prepare-data: {path}:{number}: expected 6 tab-separated fields")
            rows.append(dict(zip(("split", "package", "source", "name", "sha256", "why"), fields)))
    return rows


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def produce(row, destination):
    source = row["source"]
    if not os.path.isfile(source):
        sys.exit(f"prepare-data: {source} is missing; install the Debian package "
                 f"'{row['package']}' (scripts/setup.sh)")
    if sha256_of(source) != row["sha256"]:
        sys.exit(f"prepare-data: {source} differs from the listed file (sha256); "
                 f"the package '{row['package']}' changed")
    temporary = destination + ".tmp"
    with Image.open(source) as image:
        longer = max(image.size)
        if longer <= MAX_SIDE:
            shutil.copyfile(source, temporary)
        else:
            if not destination.endswith(".png"):
                sys.exit(f"prepare-data: {row['name']}: a downscaled image must be named .png")
            scale = MAX_SIDE / longer
            size = (round(image.size[0] * scale), round(image.size[1] * scale))
            image.convert("RGB").resize(size, Image.LANCZOS).save(temporary, format="PNG")
    os.replace(temporary, destination)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default=os.path.join(root, "data", "images"))
    parser.add_argument("--small", action="store_true",
                        help="only train and val sources of at most 1.5 MP, copied as they are "
                             "(the tests' quick set)")
    args = parser.parse_args()

    rows = read_list(os.path.join(root, "scripts", "data-split.tsv"))
    counts = {}
    for row in rows:
        if args.small:
            if row["split"] == "holdout" or not os.path.isfile(row["source"]):
                continue
            with Image.open(row["source"]) as image:
                if image.size[0] * image.size[1] > 1_500_000:
                    continue
        folder = os.path.join(args.target, row["split"])
        os.makedirs(folder, exist_ok=True)
        destination = os.path.join(folder, row["name"])
        if not os.path.isfile(destination):
            produce(row, destination)
        counts[row["split"]] = counts.get(row["split"], 0) + 1
    summary = ", ".join(f"{split}: {count}" for split, count in sorted(counts.items()))
    print(f"prepare-data: {sum(counts.values())} images in {args.target} ({summary})")


if __name__ == "__main__":
    main()
