#!/usr/bin/env python3
"""Tables of scripts/shortcut-experiments: one row per configuration with the mean and
spread (min-max) over seeds, on the validation split (what a choice may use) and on the
test split, and the per-run rows. Standard library only.

    python3 scripts/shortcut-table.py OUT_DIR
"""
import json
import os
import statistics
import sys


def called(e, target, age="adult", source=None):
    """Share of images of a target (adults; of one source when given) called COVID-19."""
    n = k = 0
    for cell in e["by_source_and_age"]["cells"]:
        if cell["age_group"] != age or (source and cell["source"] != source):
            continue
        t = cell["called_covid_by_target"].get(target)
        if t:
            n += t["images"]
            k += t["called_covid"]
    return k / n if n else float("nan")


def figures(e):
    m = e["metrics"]
    per = {c["name"]: c for c in m["classes"]}
    s = e["by_source_and_age"]
    probe = e.get("source_probe") or {}
    energy = (e.get("lung_energy") or {}).get("all") or {}
    return {
        "macro-F1": m["macro"]["f1"],
        "COVID-19 recall": per["covid"]["recall"],
        "COVID-19 F1": per["covid"]["f1"],
        "NIH normal adults called COVID": called(e, "normal", source="nih"),
        "NIH pneumonia adults called COVID": called(e, "pneumonia", source="nih"),
        "non-COVID adults called COVID": (s["non_covid_adults_called_covid"]["share"]
                                          if s["non_covid_adults_called_covid"]["share"] is not None else float("nan")),
        "same-source AUC": s["same_source"]["auc_p_covid"] if s["same_source"]["auc_p_covid"] is not None else float("nan"),
        "worst cell F1": s["worst_cell"]["macro_f1"] if s["worst_cell"]["macro_f1"] is not None else float("nan"),
        "probe balanced acc": probe.get("balanced_accuracy", float("nan")),
        "CAM outside lungs": energy.get("mean_outside", float("nan")),
    }


def fmt(values):
    values = [v for v in values if v == v]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(out):
    runs = {}
    for name in sorted(os.listdir(out)):
        paths = [os.path.join(out, name, f"{split}.json") for split in ("val", "test")]
        if "-s" not in name or not all(os.path.isfile(p) for p in paths):
            continue
        config, seed = name.rsplit("-s", 1)
        runs.setdefault(config, []).append((seed, [figures(json.load(open(p))) for p in paths]))
    if not runs:
        print("no finished runs")
        return
    keys = list(next(iter(runs.values()))[0][1][0].keys())
    for index, split in enumerate(("validation", "test")):
        print(f"### {split} split: mean (min-max) over seeds\n")
        print("| configuration | seeds | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 2) + "|")
        for config, items in runs.items():
            cells = [fmt([r[index][k] for _, r in items]) for k in keys]
            print(f"| {config} | {len(items)} | " + " | ".join(cells) + " |")
        print()
    print("### every run (validation / test)\n")
    print("| run | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for config, items in runs.items():
        for seed, (val, test) in items:
            print(f"| {config} s{seed} | " + " | ".join(f"{val[k]:.3f} / {test[k]:.3f}" for k in keys) + " |")
    print("\nThe source probe is trained on train-split features and tested on the split named; the lung-energy "
          "figure is measured on the test split only (validation skips the heatmaps). '-' or nan: not measured.")


if __name__ == "__main__":
    main(sys.argv[1])
