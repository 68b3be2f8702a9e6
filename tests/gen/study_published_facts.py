#!/usr/bin/env python3
"""Writes the seed study's published numbers as two small TSV files of facts,
read by `clipbench report --study`:
  docs/reproduction/published.tsv         one row per published arm (final epoch)
  docs/reproduction/published_curves.tsv  the per-epoch curves of those arms
from the study's results/*/*.csv (one row per run; list-valued columns).

Usage: study_published_facts.py STUDY_REPO OUT_DIR
STUDY_REPO is a checkout of github ParthS007/privacy-preserving-machine-learning.
Only numbers are carried (facts, with their source); no data or code."""
import csv, glob, os, re, subprocess, sys

csv.field_size_limit(1 << 30)
NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
METHOD = {"Non-DP": "nonprivate", "Opacus-AC": "automatic", "Opacus-RS": "random_sparsification"}
ARCH = {"unet": "unet", "NestedUNet": "nested_unet"}


def nums(s):
    return [float(x) for x in NUM.findall(s.replace("tensor", ""))] if s else []


def g(x):
    return "" if x is None else "%.10g" % x


def main():
    repo, out = sys.argv[1], sys.argv[2]
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    rows, curves = [], []
    for path in sorted(glob.glob(os.path.join(repo, "results", "*", "*.csv"))):
        rel = os.path.relpath(path, repo)
        for r in csv.DictReader(open(path, newline="")):
            method, arch = METHOD[r["algorithm"]], ARCH[r["model_name"]]
            sigma = float(r["noise_multiplier"]) if r["noise_multiplier"] else None
            tl, vl = nums(r["training_losses"]), nums(r["validation_losses"])
            vd, va = nums(r["validation_dice_scores"]), nums(r["validation_accuracies"])
            eps = nums(r["overall_privacy_spent"])
            rows.append([method, arch, g(sigma), r["learning_rate"], r["batch_size"], r["epochs"],
                         str(len(tl)), str(len(vl)), g(tl[-1]), g(vl[-1]), g(vd[-1]), g(va[-1]),
                         g(eps[-1] if eps else None), g(float(r["total_training_time"])), rel])
            for k in range(max(len(tl), len(vl), len(eps))):
                at = lambda v: g(v[k]) if k < len(v) else ""
                curves.append([method, arch, g(sigma), str(k + 1), at(tl), at(vl), at(vd), at(va),
                               at(eps)])
    order = {"nonprivate": 0, "automatic": 1, "random_sparsification": 2}
    key = lambda r: (r[1], order[r[0]], float(r[2] or 0))
    rows.sort(key=key)
    curves.sort(key=lambda r: key(r) + (int(r[3]),))
    head = ("# The seed study's published numbers (facts, with their source): github "
            "ParthS007/privacy-preserving-machine-learning at commit %s, results/*/*.csv. "
            "Written by tests/gen/study_published_facts.py; sigma empty = non-private; val_* "
            "and epsilon are the last entry of each list (the study's Dice is its per-image "
            "mean over 9 classes, its epsilon Opacus' PRV accountant at delta 1e-5, the default of PrivacyEngine() in opacus 1.4.1).\n" % commit)
    with open(os.path.join(out, "published.tsv"), "w") as f:
        f.write(head)
        f.write("method\tarch\tsigma\tlr\tbatch_size\tepochs\ttrain_points\tval_points\t"
                "train_loss\tval_loss\tval_dice\tval_pixel_acc\tepsilon\ttrain_seconds\tsource\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(out, "published_curves.tsv"), "w") as f:
        f.write(head.replace("val_* and epsilon are the last entry of each list",
                             "one row per list position (epoch); empty = the list was shorter"))
        f.write("method\tarch\tsigma\tepoch\ttrain_loss\tval_loss\tval_dice\tval_pixel_acc\t"
                "epsilon\n")
        for r in curves:
            f.write("\t".join(r) + "\n")


main()
