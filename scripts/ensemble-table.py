#!/usr/bin/env python3
"""Ensembles of the grid models, measured like single models. Standard library only.

    python3 scripts/ensemble-table.py PROBS_DIR [--test [--against RUN --dataset DIR]]

PROBS_DIR holds <config>-s<seed>/{val,test}.json, the `cxr eval --json` files of
scripts/grid-probabilities (each image's class probabilities). An ensemble's
probabilities are the mean of its members'. The candidate sets are fixed here, before
any number is seen: every single run, the seeds of each configuration, all runs, and
the top 3 and top 5 runs by validation macro-F1. The choice uses validation numbers
only, with the rule of scripts/shortcut-table.py (`choose`): the best validation
macro-F1 among the candidates calling at most 10 % of the validation non-COVID-19
adults COVID-19. Without --test nothing of the test split is read; with it, the test
numbers of every candidate set and the chosen set's per-source/age table follow; with
--against RUN (e.g. the bundled model's run) and --dataset DIR (its manifest.csv names
each image's patient), a patient bootstrap of the test macro-F1 difference between the
chosen set and that run (2000 draws, seed 0, as scripts/bootstrap-ci resamples).

Each single run's figures are recomputed here from its probabilities and checked
against the numbers `cxr eval` wrote beside them, so the ensembles are scored by the
same definitions (NIH "pneumonia" counts as right when the call is bacterial or viral).
"""
import csv
import importlib.util
import json
import os
import random
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("shortcut_table", os.path.join(HERE, "shortcut-table.py"))
shortcut_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shortcut_table)

CLASSES = ("covid", "normal", "bacterial", "viral")
# The label set of a target (data/labels.h): NIH pneumonia has no subtype.
ADMISSIBLE = {"covid": (0,), "normal": (1,), "bacterial": (2,), "viral": (3,), "pneumonia": (2, 3)}
TOP_K = (3, 5)


def argmax(p):
    return max(range(len(p)), key=lambda c: (p[c], -c))


def scored_as(label, p, predicted):
    """The class an image counts as (models/metrics.cpp resolve_targets)."""
    allowed = ADMISSIBLE[label]
    if predicted in allowed:
        return predicted
    return max(allowed, key=lambda c: (p[c], -c))


def roc_auc(scores, positive):
    """Mann-Whitney AUC with mid-ranks for ties (models/metrics.cpp roc_auc)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, positives, i = 0.0, 0, 0
    while i < len(order):
        j = i
        while j < len(order) and scores[order[j]] == scores[order[i]]:
            j += 1
        mid = (i + 1 + j) / 2
        for t in range(i, j):
            if positive[order[t]]:
                rank_sum += mid
                positives += 1
        i = j
    negatives = len(scores) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def ratio(a, b):
    return a / b if b else 0.0


def measure(images, probabilities):
    """Figures of one split: images are the eval JSON's rows, probabilities one list per image."""
    k = len(CLASSES)
    confusion = [[0] * k for _ in range(k)]
    calls = {}  # (source, age, target) -> [images, called COVID-19]
    same_scores, same_positive = [], []
    for row, p in zip(images, probabilities):
        predicted = argmax(p)
        confusion[scored_as(row["label"], p, predicted)][predicted] += 1
        cell = calls.setdefault((row["source"], row["age_group"], row["label"]), [0, 0])
        cell[0] += 1
        cell[1] += predicted == 0
        if row["age_group"] == "adult" and row["source"] == "ieee8023":
            same_scores.append(p[0])
            same_positive.append(row["label"] == "covid")
    per_class = {}
    for c, name in enumerate(CLASSES):
        tp = confusion[c][c]
        precision = ratio(tp, sum(confusion[t][c] for t in range(k)))
        recall = ratio(tp, sum(confusion[c]))
        per_class[name] = (precision, recall, ratio(2 * precision * recall, precision + recall))
    adults = [v for (source, age, label), v in calls.items() if age == "adult" and label != "covid"]
    non_covid_adults = (sum(v[1] for v in adults), sum(v[0] for v in adults))
    return {
        "macro-F1": sum(f for _, _, f in per_class.values()) / k,
        "accuracy": sum(confusion[c][c] for c in range(k)) / len(images),
        "classes": per_class,
        "COVID-19 recall": per_class["covid"][1],
        "calls": calls,
        "non-COVID adults called COVID": ratio(*non_covid_adults),
        "non-COVID adults": non_covid_adults,
        "same-collection AUC": roc_auc(same_scores, same_positive),
    }


def called(figs, source, label, age="adult"):
    n, k = figs["calls"].get((source, age, label), [0, 0])
    return f"{k}/{n}"


def load(probs_dir, split):
    runs = {}
    for name in sorted(os.listdir(probs_dir)):
        path = os.path.join(probs_dir, name, f"{split}.json")
        if "-s" in name and os.path.isfile(path):
            runs[name] = json.load(open(path))
    if not runs:
        sys.exit(f"no {split}.json under {probs_dir}")
    reference = [row["id"] for row in next(iter(runs.values()))["images"]]
    for name, e in runs.items():
        if [row["id"] for row in e["images"]] != reference:
            sys.exit(f"{name}/{split}.json lists other images than the first run")
    return runs


def check_against_cxr(name, e, figs):
    """The recomputed figures must equal what cxr eval wrote for the same probabilities."""
    expected = {
        "macro-F1": e["metrics"]["macro"]["f1"],
        "COVID-19 recall": {c["name"]: c for c in e["metrics"]["classes"]}["covid"]["recall"],
        "non-COVID adults called COVID": e["by_source_and_age"]["non_covid_adults_called_covid"]["share"],
        "same-collection AUC": e["by_source_and_age"]["same_source"]["auc_p_covid"],
    }
    for key, value in expected.items():
        if value is not None and abs(value - figs[key]) > 1e-9:
            sys.exit(f"{name}: recomputed {key} {figs[key]} differs from cxr eval's {value}")


def mean_probabilities(runs, members):
    rows = zip(*(runs[m]["images"] for m in members))
    return [[sum(r["probabilities"][c] for r in group) / len(members) for c in range(len(CLASSES))] for group in rows]


def candidate_sets(val_figs):
    """Named member lists, fixed before any ensemble is measured."""
    sets = {name: [name] for name in val_figs}
    configs = sorted({name.rsplit("-s", 1)[0] for name in val_figs})
    for config in configs:
        sets[f"ensemble {config} (3 seeds)"] = [n for n in val_figs if n.rsplit("-s", 1)[0] == config]
    sets[f"ensemble all {len(val_figs)}"] = list(val_figs)
    by_f1 = sorted(val_figs, key=lambda n: -val_figs[n]["macro-F1"])
    for k in TOP_K:
        sets[f"ensemble top {k} by val macro-F1"] = by_f1[:k]
    return sets


def choose(figs):
    """shortcut-table.py's rule: best validation macro-F1 among candidates calling at most
    MAX_ADULTS_CALLED_COVID of the validation non-COVID-19 adults COVID-19."""
    allowed = [n for n, f in figs.items() if f["non-COVID adults called COVID"] <= shortcut_table.MAX_ADULTS_CALLED_COVID]
    return max(allowed, key=lambda n: figs[n]["macro-F1"], default=None)


def row(name, f):
    nn, nk = f["calls"].get(("nih", "adult", "normal"), [0, 0])
    pn, pk = f["calls"].get(("nih", "adult", "pneumonia"), [0, 0])
    k, n = f["non-COVID adults"]
    return (f"| {name} | {f['macro-F1']:.3f} | {f['accuracy']:.3f} | {f['COVID-19 recall']:.3f} | "
            f"{f['classes']['viral'][2]:.3f} | {k}/{n} ({ratio(k, n):.1%}) | {pk}/{pn} | {nk}/{nn} | "
            f"{f['same-collection AUC']:.3f} |")


def spread(values):
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def table(title, sets, figs_of, singles):
    print(f"### {title}\n")
    print("| candidate | macro-F1 | accuracy | COVID-19 recall | viral F1 | non-COVID adults called COVID | "
          "NIH adult pneumonia called COVID | NIH normal adults called COVID | same-collection AUC |")
    print("|---" * 9 + "|")
    for name in sets:
        if len(sets[name]) > 1:
            members = [singles[m] for m in sets[name]]
            print(row(name, figs_of[name]))
            print(f"| (its {len(members)} members alone: mean (min-max)) | "
                  f"{spread([m['macro-F1'] for m in members])} | {spread([m['accuracy'] for m in members])} | "
                  f"{spread([m['COVID-19 recall'] for m in members])} | "
                  f"{spread([m['classes']['viral'][2] for m in members])} | "
                  f"{spread([m['non-COVID adults called COVID'] for m in members])} | | | "
                  f"{spread([m['same-collection AUC'] for m in members])} |")
    print()


def measure_sets(runs, sets):
    figs = {}
    for name, members in sets.items():
        images = runs[members[0]]["images"]
        figs[name] = measure(images, mean_probabilities(runs, members))
    return figs


def per_source_table(f):
    print("| source/age | target | images | called COVID-19 |")
    print("|---|---|---|---|")
    for (source, age, label), (n, k) in sorted(f["calls"].items()):
        print(f"| {source}/{age} | {label} | {n} | {k} ({ratio(k, n):.0%}) |")
    print()
    print("| class | precision | recall | F1 |")
    print("|---|---|---|---|")
    for name, (p, r, f1) in f["classes"].items():
        print(f"| {name} | {p:.3f} | {r:.3f} | {f1:.3f} |")
    print()


def paired_bootstrap(images, chosen_p, other_p, dataset, draws=2000, seed=0):
    """95 % interval of macro-F1(chosen) - macro-F1(other), resampling patients."""
    patient_of = {int(r["id"]): r["patient"] for r in csv.DictReader(open(os.path.join(dataset, "manifest.csv")))}
    by_patient = defaultdict(list)
    for j, row in enumerate(images):
        by_patient[patient_of[row["id"]]].append(j)
    patients = list(by_patient)
    rng = random.Random(seed)
    differences = []
    for _ in range(draws):
        drawn = [j for _ in patients for j in by_patient[rng.choice(patients)]]
        rows = [images[j] for j in drawn]
        differences.append(measure(rows, [chosen_p[j] for j in drawn])["macro-F1"] -
                           measure(rows, [other_p[j] for j in drawn])["macro-F1"])
    differences.sort()
    return differences[int(0.025 * draws)], differences[int(0.975 * draws) - 1]


def main(probs_dir, with_test, against=None, dataset=None):
    val = load(probs_dir, "val")
    singles_val = {}
    for name, e in val.items():
        singles_val[name] = measure(e["images"], [r["probabilities"] for r in e["images"]])
        check_against_cxr(f"{name}/val", e, singles_val[name])
    sets = candidate_sets(singles_val)
    val_figs = measure_sets(val, sets)
    table("validation split: ensembles (mean of member probabilities) beside their members", sets, val_figs,
          singles_val)
    print("Every candidate on validation (singles and ensembles), sorted by macro-F1:\n")
    for name in sorted(val_figs, key=lambda n: -val_figs[n]["macro-F1"]):
        f = val_figs[name]
        print(f"- {name}: macro-F1 {f['macro-F1']:.3f}, non-COVID adults called COVID "
              f"{f['non-COVID adults called COVID']:.1%}, COVID-19 recall {f['COVID-19 recall']:.3f}")
    chosen = choose(val_figs)
    print(f"\nChosen on validation (best macro-F1 with at most {shortcut_table.MAX_ADULTS_CALLED_COVID:.0%} of the "
          f"non-COVID-19 adults called COVID-19): {chosen} = {' + '.join(sets[chosen]) if chosen else '-'}\n")
    if not with_test:
        return
    test = load(probs_dir, "test")
    singles_test = {}
    for name, e in test.items():
        singles_test[name] = measure(e["images"], [r["probabilities"] for r in e["images"]])
        check_against_cxr(f"{name}/test", e, singles_test[name])
    test_figs = measure_sets(test, sets)
    table("test split: the same candidate sets", sets, test_figs, singles_test)
    if chosen:
        print(f"### test split: the chosen candidate, {chosen}\n")
        print("| candidate | macro-F1 | accuracy | COVID-19 recall | viral F1 | non-COVID adults called COVID | "
              "NIH adult pneumonia called COVID | NIH normal adults called COVID | same-collection AUC |")
        print("|---" * 9 + "|")
        print(row(chosen, test_figs[chosen]))
        print()
        per_source_table(test_figs[chosen])
        if against:
            images = test[against]["images"]
            low, high = paired_bootstrap(images, mean_probabilities(test, sets[chosen]),
                                         [r["probabilities"] for r in images], dataset)
            print(f"Test macro-F1, {chosen} minus {against}: "
                  f"{test_figs[chosen]['macro-F1'] - singles_test[against]['macro-F1']:+.3f}, "
                  f"patient bootstrap 95 % interval {low:+.3f} to {high:+.3f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    usage = "usage: ensemble-table.py PROBS_DIR [--test [--against RUN --dataset DIR]]"
    options = dict(zip(args[2::2], args[3::2])) if len(args) > 2 else {}
    if not args or (len(args) > 1 and args[1] != "--test") or len(args) not in (1, 2, 6) or \
            (len(args) == 6 and set(options) != {"--against", "--dataset"}):
        sys.exit(usage)
    main(args[0], len(args) > 1, options.get("--against"), options.get("--dataset"))
