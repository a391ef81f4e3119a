#!/usr/bin/env python3
"""Differencing attacks on a release series, on ANSUR II.

For random people, three series are published with the opentape binary:
  withdrawal: 1.0.0 of everyone, then 1.0.1 without the person (a patch);
  join:       1.0.0 without the person, then 1.1.0 with them (a minor version);
  re-cut:     1.0.0 of everyone, then 2.0.0 without the person (a major version).
From the two versions (tables and documents), each attack below builds an estimate of the
person's measurements; it is scored against their class's row in the version that held
them (mean absolute error, mm) and by whether the person nearest to the estimate (among
their stratum's people, standardized) is the person.

Attacks (the version with the person is A, without B; per measurement, over the person's
Gender stratum unless said):
  sums      sum(A) - sum(B)
  squares   sign(sums) * sqrt(max(0, sum(A^2) - sum(B^2))), and the cross-product check
  sorted    per column, the value in A's sorted column that B's lacks (else the column mean)
  rows      the mean of the rows A has and B lacks (multiset difference; else no estimate)
  documents n_A * mean_A - n_B * mean_B from the manifests' figures of the eligible people
  average   (re-cut only) documents attack averaged over a series of re-cuts alternating
            with and without the person, up to `--average` of each (or as many as the
            series budget cap allows: a re-cut past it is refused)

Usage: series_attacks.py --bin target/release/opentape --people 20 [--seed 1] [--out JSON]
Needs numpy and pyarrow.
"""

import argparse
import csv
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
KEY = "series-attack-key-0123456789"


def read_people():
    people = []
    for f in FILES:
        with open(os.path.join(ROOT, "data-samples/ansur2", f), newline="", encoding="latin-1") as fh:
            for row in csv.DictReader(fh):
                sid = row.get("subjectid") or row.get("SubjectId")
                people.append((f, sid, row["Gender"], row))
    return people


def write_inputs(d, people, leave_out):
    os.makedirs(d, exist_ok=True)
    paths = []
    for f in FILES:
        src = os.path.join(ROOT, "data-samples/ansur2", f)
        dst = os.path.join(d, f)
        with open(src, newline="", encoding="latin-1") as fi, open(dst, "w", newline="", encoding="latin-1") as fo:
            lines = fi.read().split("\n")
            fo.write(lines[0] + "\n")
            for line in lines[1:]:
                if line and line.split(",", 1)[0] not in leave_out:
                    fo.write(line + "\n")
        paths.append(dst)
    return paths


def release(binary, inputs, version, out, private, key_file, refusal_ok=False):
    cmd = [binary, "release", "--pipeline", os.path.join(ROOT, "pipelines/ansur2.toml"), "--version", version,
           "--out", out, "--private-dir", private, "--noise-key-file", key_file]
    for i in inputs:
        cmd += ["--input", i]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 1 and refusal_ok and "budget cap" in r.stderr:
        return None
    if r.returncode != 0:
        sys.exit(f"release {version} failed: {r.stderr}")
    return os.path.join(out, version)


def table(v, names):
    t = pq.read_table(os.path.join(v, "measurements.parquet")).to_pandas()
    return t["Gender"].to_numpy(), t[names].to_numpy(dtype=float)


def manifest_figures(v, names, gender):
    m = json.load(open(os.path.join(v, "manifest.json")))
    for s in m["utility"]["strata"]:
        if s["categories"].get("Gender") == gender:
            means = np.array([s["measurements"][n]["mean"][0] for n in names], dtype=float)
            return s["people"], means
    return 0, np.full(len(names), np.nan)


def estimates(A, B, names, gender):
    ga, xa = table(A, names)
    gb, xb = table(B, names)
    xa, xb = xa[ga == gender], xb[gb == gender]
    # Where an attack finds no difference, its estimate is what one release gives.
    truth_mean = xa.mean(0)
    out = {}
    s = xa.sum(0) - xb.sum(0)
    out["sums"] = s
    q = (xa ** 2).sum(0) - (xb ** 2).sum(0)
    out["squares"] = np.sign(s) * np.sqrt(np.maximum(q, 0))
    est = truth_mean.copy()
    for j in range(xa.shape[1]):
        a, b = np.sort(xa[:, j]), np.sort(xb[:, j])
        ua, ca = np.unique(a, return_counts=True)
        ub, cb = np.unique(b, return_counts=True)
        cnt = dict(zip(ub, cb))
        extra = [u for u, c in zip(ua, ca) if c > cnt.get(u, 0)]
        if extra:
            est[j] = np.mean(extra)
    out["sorted"] = est
    from collections import Counter
    ca, cb = Counter(map(tuple, xa)), Counter(map(tuple, xb))
    diff = ca - cb
    rows = [np.array(r) for r, c in diff.items() for _ in range(c)]
    out["rows"] = np.mean(rows, axis=0) if rows else truth_mean.copy()
    na, ma = manifest_figures(A, names, gender)
    nb, mb = manifest_figures(B, names, gender)
    out["documents"] = na * ma - nb * mb
    return out


def summarize(mae, one, hit):
    """One attack's tries: mean errors of the estimates and of what one release tells, the
    tries where the estimate is no closer, and those where the nearest person is the person."""
    return {
        "estimate_mae_mm": round(float(np.nanmean(mae)), 2),
        "one_release_mae_mm": round(float(np.nanmean(one)), 2),
        "no_closer_than_one_release": int(sum(m >= c for m, c in zip(mae, one))),
        "nearest_is_person": int(sum(hit)),
        "tries": len(hit),
    }


def average_attack(a, d, without, with_, key_file, names, g):
    """The documents attack averaged over a series of re-cuts that alternates with and
    without the person: 1.0.0 with, 2.0.0 without (the pair above), 3.0.0 with, 4.0.0
    without, ... up to `2 * average` versions."""
    figs = {True: [], False: []}
    for i in range(1, 2 * a.average + 1):
        v = f"{d}/out/{i}.0.0"
        if not os.path.exists(v):
            # The series budget cap ends the re-cuts: the attacker averages what exists.
            if release(a.bin, with_ if i % 2 else without, f"{i}.0.0", d + "/out", d + "/private",
                       key_file, refusal_ok=True) is None:
                break
        n, m = manifest_figures(v, names, g)
        figs[i % 2 == 1].append(n * m)
    AVERAGED.append((len(figs[True]), len(figs[False])))
    return np.mean(figs[True], axis=0) - np.mean(figs[False], axis=0)


# (versions with, versions without the person) each averaging attack could use.
AVERAGED = []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/opentape"))
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--average", type=int, default=0, help="re-cuts to average the documents attack over")
    ap.add_argument("--scenarios", default="withdrawal,join,recut")
    ap.add_argument("--out")
    a = ap.parse_args()
    people = read_people()
    work = tempfile.mkdtemp(prefix="series-attacks-")
    key_file = os.path.join(work, "key")
    open(key_file, "w").write(KEY)
    rng = np.random.default_rng(a.seed)
    targets = rng.choice(len(people), a.people, replace=False)
    base = os.path.join(work, "base")
    all_inputs = write_inputs(os.path.join(work, "in-all"), people, set())
    release(a.bin, all_inputs, "1.0.0", base + "/out", base + "/private", key_file)
    m = json.load(open(base + "/out/1.0.0/manifest.json"))
    k = m["parameters"]["k"]
    names = m["columns"]["measurements"]
    cols = {c: i for i, c in enumerate(names)}
    # Everyone's values (the manifest's measurement order), for the nearest-person test.
    ids = [p[1] for p in people]
    vals = np.array([[float(p[3][n]) for n in names] for p in people])
    gender = np.array([p[2] for p in people])
    results = {"k": k, "people": int(a.people), "scenarios": {}}
    for scenario in a.scenarios.split(","):
        rec = {}
        for t in targets:
            sid, g = ids[t], gender[t]
            d = os.path.join(work, f"{scenario}-{sid}")
            without = write_inputs(os.path.join(d, "in"), people, {sid})
            if scenario == "join":
                v1 = release(a.bin, without, "1.0.0", d + "/out", d + "/private", key_file)
                v2 = release(a.bin, all_inputs, "1.1.0", d + "/out", d + "/private", key_file)
                A, B, holder, priv = v2, v1, "1.1.0", None
            else:
                shutil.copytree(base, d, dirs_exist_ok=True)
                ver = "1.0.1" if scenario == "withdrawal" else "2.0.0"
                v2 = release(a.bin, without, ver, d + "/out", d + "/private", key_file)
                A, B = d + "/out/1.0.0", v2
            # The person's class row in the version that held them (A): the private
            # membership of A's run is the base's for withdrawal and re-cut.
            mem = os.path.join(base if scenario != "join" else d, "private", "membership.csv")
            ga, xa = table(A, names)
            rowmap = {}
            with open(mem) as fh:
                for r in csv.DictReader(fh):
                    rowmap[r["record"]] = r["row"]
            in_g = gender == g
            mu, sd = vals[in_g].mean(0), vals[in_g].std(0)
            truth = vals[t]
            est = estimates(A, B, names, g)
            # Records are "file#n", n the data row in the file (1-based); A's inputs held
            # every row. A person who joins alone waits: no version holds them, and the
            # reference is their stratum's mean (all an attacker knows without them).
            f = people[t][0]
            n = sum(1 for p in people[: t + 1] if p[0] == f)
            r = rowmap.get(f"{f}#{n}", "")
            # What one release gives: the class row, and the released stratum mean.
            released_mean = xa[ga == g].mean(0)
            ref = xa[int(r)] if r != "" else released_mean
            class_mae = min(float(np.mean(np.abs(ref - truth))), float(np.mean(np.abs(released_mean - truth))))
            if scenario == "recut" and a.average > 0:
                est["average"] = average_attack(a, d, without, all_inputs, key_file, names, g)
            cand = vals[in_g]
            cand_ids = np.array(ids)[in_g]
            for name, e in est.items():
                mae = float(np.mean(np.abs(e - truth)))
                z = (cand - mu) / sd
                ze = (e - mu) / sd
                nearest = cand_ids[np.argmin(((z - ze) ** 2).sum(1))]
                r = rec.setdefault(name, {"mae": [], "class_mae": [], "hit": []})
                r["mae"].append(mae)
                r["class_mae"].append(class_mae)
                r["hit"].append(bool(nearest == sid))
            shutil.rmtree(d, ignore_errors=True)
        summary = {}
        for name, r in rec.items():
            summary[name] = summarize(r["mae"], r["class_mae"], r["hit"])
        if scenario == "recut" and AVERAGED:
            summary["average"]["versions_with_without"] = sorted(set(AVERAGED))
        results["scenarios"][scenario] = summary
        print(scenario, json.dumps(summary), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if a.out:
        json.dump(results, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
