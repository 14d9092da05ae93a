#!/usr/bin/env python3
"""Tables of scripts/shortcut-experiments: one row per configuration with the mean and
spread (min-max) over seeds, on the validation split (what a choice may use) and on the
test split, and the per-run rows. Standard library only.

    python3 scripts/shortcut-table.py OUT_DIR [--validation-only]

--validation-only leaves the test split out, so that the model to ship can be chosen
without seeing it; the last lines name the run the selection rule (below) picks.
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
        "CAM outside lungs": energy["mean_outside"] if energy.get("images") else float("nan"),
    }


def fmt(values):
    values = [v for v in values if v == v]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


# The rule that picks the model to ship, on validation numbers only: the best validation
# macro-F1 among the runs that call at most this share of the non-COVID-19 adults COVID-19
# (the shortcut the tool is about). The worst source x age cell, the rule before, rests on
# ieee8023 cells with 1-5 non-COVID images per class and swings between seeds.
MAX_ADULTS_CALLED_COVID = 0.10


def choose(runs):
    """(run name, validation figures) chosen by the rule, or None when no run passes."""
    allowed = [(f"{config} s{seed}", figs[0]) for config, items in runs.items() for seed, figs in items
               if figs[0]["non-COVID adults called COVID"] <= MAX_ADULTS_CALLED_COVID]
    return max(allowed, key=lambda run: run[1]["macro-F1"], default=None)


def main(out, validation_only):
    splits = ("val",) if validation_only else ("val", "test")
    runs = {}
    for name in sorted(os.listdir(out)):
        paths = [os.path.join(out, name, f"{split}.json") for split in splits]
        if "-s" not in name or not all(os.path.isfile(p) for p in paths):
            continue
        config, seed = name.rsplit("-s", 1)
        runs.setdefault(config, []).append((seed, [figures(json.load(open(p))) for p in paths]))
    if not runs:
        print("no finished runs")
        return
    keys = list(next(iter(runs.values()))[0][1][0].keys())
    for index, split in enumerate(("validation", "test")[:len(splits)]):
        print(f"### {split} split: mean (min-max) over seeds\n")
        print("| configuration | seeds | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 2) + "|")
        for config, items in runs.items():
            cells = [fmt([r[index][k] for _, r in items]) for k in keys]
            print(f"| {config} | {len(items)} | " + " | ".join(cells) + " |")
        print()
    print(f"### every run ({' / '.join(('validation', 'test')[:len(splits)])})\n")
    print("| run | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for config, items in runs.items():
        for seed, figs in items:
            print(f"| {config} s{seed} | " + " | ".join(" / ".join(f"{f[k]:.3f}" for f in figs) for k in keys) + " |")
    chosen = choose(runs)
    print(f"\nChosen on validation (best macro-F1 with at most {MAX_ADULTS_CALLED_COVID:.0%} of the non-COVID-19 "
          "adults called COVID-19): " + (f"{chosen[0]} (validation macro-F1 {chosen[1]['macro-F1']:.3f})"
                                         if chosen else "no run qualifies"))
    print("\nThe source probe is trained on train-split features and tested on the split named; the lung-energy "
          "figure is measured on the test split only (validation skips the heatmaps). '-' or nan: not measured.")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--validation-only"):
        sys.exit("usage: shortcut-table.py OUT_DIR [--validation-only]")
    main(sys.argv[1], len(sys.argv) == 3)
