#!/usr/bin/env python3
"""Statistics along a release series of ANSUR II with churn.

A series of versions is published with the opentape binary from a changing population:
the first version holds a random 80% of ANSUR II (the split of the privacy evaluation),
each later version loses 1-5% of its people (withdrawals) and, in minor versions, gains
1-5% from the remaining 20% (new people); the last is a re-cut. Per version, the published
table is compared with that version's eligible people (its input), per Gender stratum:
worst mean error (% of the mean), worst standard deviation error (%), worst correlation
change. The private utility.json's figures (the same comparison, by opentape) are printed
beside them.

Usage: series_utility.py --bin target/release/opentape [--seed 1] [--out JSON]
Needs numpy and pyarrow.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["ANSUR_II_MALE_Public.csv", "ANSUR_II_FEMALE_Public.csv"]
# (version, withdrawn share, joining share): 1.0.0 first, then patches (withdrawals only),
# minor versions (withdrawals and joins), and a re-cut.
PLAN = [("1.0.0", 0, 0), ("1.0.1", 0.03, 0), ("1.1.0", 0.02, 0.05), ("1.1.1", 0.01, 0),
        ("1.2.0", 0.02, 0.03), ("1.3.0", 0.05, 0.05), ("2.0.0", 0.02, 0.01)]


def lines_of(f):
    text = open(os.path.join(ROOT, "data-samples/ansur2", f), encoding="latin-1", newline="").read()
    lines = text.split("\n")
    return lines[0], [l for l in lines[1:] if l]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/opentape"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    heads, rows = {}, []
    for f in FILES:
        h, ls = lines_of(f)
        heads[f] = h
        rows += [(f, l) for l in ls]
    n = len(rows)
    order = rng.permutation(n)
    current = set(order[: int(0.8 * n)].tolist())
    pool = [int(i) for i in order[int(0.8 * n):]]
    work = tempfile.mkdtemp(prefix="series-utility-")
    key = os.path.join(work, "key")
    open(key, "w").write("series-utility-key-0123456789")
    out, private = os.path.join(work, "out"), os.path.join(work, "private")
    results = []
    for version, leave, join in PLAN:
        cur = sorted(current)
        if leave:
            gone = set(rng.choice(cur, int(leave * len(cur)), replace=False).tolist())
            current -= gone
        if join:
            k = int(join * len(cur))
            current |= set(pool[:k])
            pool = pool[k:]
        d = os.path.join(work, "in-" + version)
        os.makedirs(d)
        inputs = []
        for f in FILES:
            p = os.path.join(d, f)
            with open(p, "w", encoding="latin-1", newline="") as fo:
                fo.write(heads[f] + "\n")
                for i in sorted(current):
                    if rows[i][0] == f:
                        fo.write(rows[i][1] + "\n")
            inputs += ["--input", p]
        import time
        t0 = time.monotonic()
        r = subprocess.run([a.bin, "release", "--pipeline", os.path.join(ROOT, "pipelines/ansur2.toml"),
                            "--version", version, "--out", out, "--private-dir", private,
                            "--noise-key-file", key] + inputs, capture_output=True, text=True)
        seconds = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"{version}: {r.stderr}")
        m = json.load(open(os.path.join(out, version, "manifest.json")))
        names = m["columns"]["measurements"]
        t = pq.read_table(os.path.join(out, version, "measurements.parquet")).to_pandas()
        # The eligible people: the input rows (ANSUR II has no filter that drops anyone).
        import csv
        people = []
        for f in FILES:
            with open(os.path.join(d, f), encoding="latin-1", newline="") as fh:
                for row in csv.DictReader(fh):
                    people.append((row["Gender"], [float(row[c]) for c in names]))
        worst = {"mean_error_pct": 0.0, "std_error_pct": 0.0, "correlation_change": 0.0}
        for g in sorted({p[0] for p in people}):
            x = np.array([v for gg, v in people if gg == g])
            y = t[t["Gender"] == g][names].to_numpy(dtype=float)
            me = np.abs(y.mean(0) - x.mean(0)) / np.abs(x.mean(0)) * 100
            se = np.abs(y.std(0) - x.std(0)) / x.std(0) * 100
            cc = np.abs(np.corrcoef(y.T) - np.corrcoef(x.T))
            worst["mean_error_pct"] = max(worst["mean_error_pct"], float(me.max()))
            worst["std_error_pct"] = max(worst["std_error_pct"], float(se.max()))
            worst["correlation_change"] = max(worst["correlation_change"], float(np.nanmax(cc)))
        priv = json.load(open(os.path.join(private, "utility.json")))["worst"]
        rec = {"version": version, "kind": m["series"]["kind"], "eligible": len(people),
               "rows": int(len(t)), "rows_of_people_who_left": m["series"]["rows_of_people_who_left"],
               "worst": {k: round(v, 4) for k, v in worst.items()},
               "opentape_private_worst": priv,
               "budget_series_max": m["series"]["budget"]["series_max_per_person"],
               "release_s": round(seconds, 2)}
        results.append(rec)
        print(json.dumps(rec), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if a.out:
        json.dump(results, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
