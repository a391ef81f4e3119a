#!/usr/bin/env python3
"""Differencing attacks on a release series of FreeSewing sets: the shipped v3
sample (NDJSON) and a FreeSewing backend database written without opentape's code
(benches/sparse_store.py). The same scenarios and attacks as benches/series_attacks.py
(ANSUR II), on tables whose rows hold different measurements:

  withdrawal 1.0.0 of everyone, 1.0.1 without the person (patch)
  join       1.0.0 without the person, 1.1.0 with them (minor)
  re-cut     1.0.0 of everyone, 2.0.0 without the person (major)

Attacks, per measurement the person holds, over the rows of their category (the version
with the person is A, without B): sums, squares, sorted (the values A's column has and B's
lacks), rows (the rows A has and B lacks), documents (holders x mean of the eligible
people, from the manifests). Each estimate is scored against what one release gives (the
better of their class's row in A and A's mean of their category's rows holding each
measurement; mean absolute error over the measurements they hold) and by whether the
eligible person nearest to it (same category, holding those measurements, standardized)
is the person.

Usage: series_attacks_fs.py --data v3|store --bin target/release/opentape --people 20
Needs numpy and pyarrow (and cryptography for --data store).
"""

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter

import numpy as np
import pyarrow.parquet as pq

from series_attacks import summarize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "series-attack-key-0123456789"


class V3:
    pipeline = "pipelines/freesewing-v3.toml"
    as_of = "2026-11-29"

    def __init__(self, work, seed):
        self.src = os.path.join(ROOT, "data-samples/freesewing-v3")
        self.lines = open(os.path.join(self.src, "sets.ndjson")).read().splitlines()

    def truth(self, rec):
        line = int(rec.rsplit("#", 1)[1])
        m = json.loads(self.lines[line - 1]).get("measies") or {}
        if isinstance(m, str):
            # `sqlite3 -json` writes the column as JSON text.
            try:
                m = json.loads(m)
            except ValueError:
                m = {}
        return {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}

    def inputs(self, d, without=None):
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(self.src, "users.ndjson"), d)
        skip = int(without.rsplit("#", 1)[1]) if without else None
        with open(os.path.join(d, "sets.ndjson"), "w") as f:
            for i, l in enumerate(self.lines, 1):
                if i != skip:
                    f.write(l + "\n")
        return ["--input", d]


class Store:
    pipeline = "pipelines/freesewing-sqlite.toml"
    as_of = "2026-12-01"

    def __init__(self, work, seed):
        self.dir = os.path.join(work, "store")
        subprocess.run([sys.executable, os.path.join(ROOT, "benches/sparse_store.py"), self.dir, "1837", str(seed)],
                       check=True, capture_output=True)
        self.sets = json.load(open(os.path.join(self.dir, "truth.json")))["sets"]

    def truth(self, rec):
        return {k: float(v) for k, v in self.sets[rec.rsplit("#", 1)[1]]["measurements"].items()}

    def inputs(self, d, without=None):
        os.makedirs(d, exist_ok=True)
        db = os.path.join(d, "backend.sqlite")
        shutil.copy(os.path.join(self.dir, "backend.sqlite"), db)
        if without:
            con = sqlite3.connect(db)
            con.execute('DELETE FROM "Set" WHERE id = ?', (int(without.rsplit("#", 1)[1]),))
            con.commit()
            con.close()
        return ["--input", db, "--store-key-file", os.path.join(self.dir, "encryption.key")]


def release(a, data, inputs, version, out, private, key_file):
    cmd = [a.bin, "release", "--pipeline", os.path.join(ROOT, data.pipeline), "--version", version,
           "--out", out, "--private-dir", private, "--noise-key-file", key_file, "--as-of", data.as_of] + inputs
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"release {version} failed: {r.stderr}")
    return os.path.join(out, version)


def table(v):
    m = json.load(open(os.path.join(v, "manifest.json")))
    t = pq.read_table(os.path.join(v, "measurements.parquet")).to_pandas()
    cat = m["columns"]["categories"][0]
    return m, t, cat


def membership(private):
    with open(os.path.join(private, "membership.csv")) as f:
        return {r["record"]: r["row"] for r in csv.DictReader(f)}


def estimates(A, B, names, category, fallback):
    ma, ta, cat = table(A)
    mb, tb, _ = table(B)
    xa = ta[ta[cat] == category]
    xb = tb[tb[cat] == category]
    out = {k: {} for k in ["sums", "squares", "sorted", "rows", "documents"]}
    rows_a = Counter(tuple(None if np.isnan(v) else v for v in r) for r in xa[names].to_numpy(dtype=float))
    rows_b = Counter(tuple(None if np.isnan(v) else v for v in r) for r in xb[names].to_numpy(dtype=float))
    extra_rows = list((rows_a - rows_b).elements())
    for j, n in enumerate(names):
        a, b = xa[n].dropna().to_numpy(dtype=float), xb[n].dropna().to_numpy(dtype=float)
        s = a.sum() - b.sum()
        out["sums"][n] = s
        out["squares"][n] = np.sign(s) * np.sqrt(max((a ** 2).sum() - (b ** 2).sum(), 0.0))
        extra = list((Counter(a.tolist()) - Counter(b.tolist())).elements())
        out["sorted"][n] = float(np.mean(extra)) if extra else fallback.get(n, np.nan)
        vals = [r[j] for r in extra_rows if r[j] is not None]
        out["rows"][n] = float(np.mean(vals)) if vals else fallback.get(n, np.nan)
        fa, fb = ma.get("measurements", {}).get(n, {}), mb.get("measurements", {}).get(n, {})
        try:
            out["documents"][n] = fa["holders"] * fa["mean"][0] - fb["holders"] * fb["mean"][0]
        except (KeyError, TypeError, IndexError):
            out["documents"][n] = 0.0
    return out


def mae(est, truth):
    d = [abs(est[k] - v) for k, v in truth.items() if k in est and not np.isnan(est[k])]
    return float(np.mean(d)) if d else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=["v3", "store"], default="v3")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/opentape"))
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="series-attacks-fs-")
    key_file = os.path.join(work, "key")
    open(key_file, "w").write(KEY)
    data = (V3 if a.data == "v3" else Store)(work, a.seed)
    base = os.path.join(work, "base")
    all_inputs = data.inputs(os.path.join(work, "in-all"))
    v1 = release(a, data, all_inputs, "1.0.0", base + "/out", base + "/private", key_file)
    m1, t1, cat = table(v1)
    names = m1["columns"]["measurements"]
    k = m1["parameters"]["k"]
    mem = membership(base + "/private")
    placed = sorted(r for r, row in mem.items() if row != "")
    # Everyone eligible and placed, for the nearest-person test.
    people = {r: (t1.iloc[int(mem[r])][cat], data.truth(r)) for r in placed}
    rng = np.random.default_rng(a.seed)
    targets = [placed[i] for i in rng.choice(len(placed), a.people, replace=False)]
    results = {"data": a.data, "k": k, "people": a.people, "scenarios": {}}
    for scenario in ["withdrawal", "join", "recut"]:
        rec = {}
        for t in targets:
            d = os.path.join(work, f"{scenario}-{t.replace('#', '_')}")
            without = data.inputs(os.path.join(d, "in"), without=t)
            if scenario == "join":
                release(a, data, without, "1.0.0", d + "/out", d + "/private", key_file)
                A = release(a, data, all_inputs, "1.1.0", d + "/out", d + "/private", key_file)
                B = d + "/out/1.0.0"
                row = membership(d + "/private").get(t, "")
            else:
                shutil.copytree(base, d, dirs_exist_ok=True)
                ver = "1.0.1" if scenario == "withdrawal" else "2.0.0"
                B = release(a, data, without, ver, d + "/out", d + "/private", key_file)
                A = d + "/out/1.0.0"
                row = mem.get(t, "")
            ma, ta, _ = table(A)
            category = people[t][0]
            truth = {n: v for n, v in data.truth(t).items() if n in names}
            in_cat = ta[ta[cat] == category]
            released_mean = {n: float(in_cat[n].mean()) for n in names if in_cat[n].notna().any()}
            one = mae(released_mean, truth)
            if row != "":
                class_row = {n: float(v) for n, v in ta.iloc[int(row)][names].items() if not np.isnan(v)}
                one = min(one, mae(class_row, truth))
            # Candidates: same category, holding every measurement compared.
            held = sorted(truth)
            cands = [(r, v) for r, (c, v) in people.items() if c == category and all(n in v for n in held)]
            cm = np.array([[v[n] for n in held] for _, v in cands])
            mu, sd = cm.mean(0), np.where(cm.std(0) > 0, cm.std(0), 1.0)
            for name, e in estimates(A, B, names, category, released_mean).items():
                ev = np.array([e.get(n, np.nan) for n in held])
                ev = np.where(np.isnan(ev), mu, ev)
                nearest = cands[int(np.argmin((((cm - ev) / sd) ** 2).sum(1)))][0]
                r = rec.setdefault(name, {"mae": [], "one": [], "hit": []})
                r["mae"].append(mae(e, truth))
                r["one"].append(one)
                r["hit"].append(nearest == t)
            shutil.rmtree(d, ignore_errors=True)
        summary = {name: summarize(r["mae"], r["one"], r["hit"]) for name, r in rec.items()}
        results["scenarios"][scenario] = summary
        print(scenario, json.dumps(summary), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if a.out:
        json.dump(results, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
