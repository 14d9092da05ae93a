#!/usr/bin/env python3
"""The teacher file of `cxr train --distill-from`: the mean of several models' class
probabilities per image, from their `cxr eval --json` files of one split (normally the
train split: `cxr eval --split train --probe-images 0 --heatmap-images 0 --json ...`).
Standard library only; the CSV is written atomically (temporary file, then rename).

    python3 scripts/teacher-probabilities.py OUT.csv EVAL.json [EVAL.json ...]

Columns: id (the manifest's image id), source_path, then one column per class in the
models' order. Every file must list the same images in the same order.
"""
import csv
import json
import os
import sys
import tempfile

CLASSES = ("covid", "normal", "bacterial", "viral")


def main(out, paths):
    members = [json.load(open(p)) for p in paths]
    reference = [row["id"] for row in members[0]["images"]]
    for path, e in zip(paths, members):
        if [row["id"] for row in e["images"]] != reference:
            sys.exit(f"{path} lists other images than {paths[0]}")
        if e["manifest_sha256"] != members[0]["manifest_sha256"]:
            sys.exit(f"{path} was evaluated on another dataset than {paths[0]}")
    folder = os.path.dirname(os.path.abspath(out))
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("id", "source_path") + CLASSES)
        for rows in zip(*(e["images"] for e in members)):
            mean = [sum(r["probabilities"][c] for r in rows) / len(rows) for c in range(len(CLASSES))]
            writer.writerow([rows[0]["id"], rows[0]["source_path"]] + [f"{p:.9f}" for p in mean])
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, out)
    print(f"wrote {out}: {len(reference)} images, mean of {len(paths)} models")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: teacher-probabilities.py OUT.csv EVAL.json [EVAL.json ...]")
    main(sys.argv[1], sys.argv[2:])
