#!/usr/bin/env python3
"""Privacy-utility frontier on ANSUR II (issue 5).

Splits ANSUR II 80/20 (train/control, fixed seed), releases the training part with
opentape for each method and k, and runs anonymeter (PyPI) against the control part:
singling out (multivariate, 300 attacks, attempts capped), linkability (half the
measurement columns on each side, 300 attacks) and inference (secret: Gender, 300
attacks). Prints one Markdown row per (method, k) with the three risks (95% CI) and the
utility figures (from the release itself against the training data).

usage: python benches/privacy_eval.py [--opentape target/debug/opentape] [--k 5 10 20]
       [--methods none restore:1.0 restore:0.8 restore:0.6] [--noise 1.0]
Needs a venv with: anonymeter pyarrow pandas numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator

ROOT = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("--opentape", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/opentape"))
ap.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
ap.add_argument("--methods", nargs="+", default=["none", "restore:1.0", "restore:0.8", "restore:0.6"])
ap.add_argument("--noise", type=float, default=None, help="noise scale (default: the pipeline's)")
ap.add_argument("--attacks", type=int, default=300)
ap.add_argument("--seed", type=int, default=20261129, help="seed of the 80/20 split")
ap.add_argument("--attack-seed", type=int, default=None, help="seed of anonymeter's singling-out queries (default: --seed)")
a = ap.parse_args()

data = ROOT / "data-samples/ansur2"
frames = [pd.read_csv(data / f, encoding="cp1252") for f in ["ANSUR_II_MALE_Public.csv", "ANSUR_II_FEMALE_Public.csv"]]
frames[1] = frames[1].rename(columns={"SubjectId": "subjectid"})
full = pd.concat(frames, ignore_index=True)
rng = np.random.RandomState(a.seed)
perm = rng.permutation(len(full))
cut = int(0.8 * len(full))
train, control = full.iloc[perm[:cut]], full.iloc[perm[cut:]]

pipeline = (ROOT / "pipelines/ansur2.toml").read_text()
meas = [l.split(" = ")[0] for l in pipeline.splitlines() if l.endswith('= "measurement"')]
cols = ["Gender"] + meas

work = Path(tempfile.mkdtemp(prefix="opentape-eval-"))
train_csv = work / "train.csv"
train.to_csv(train_csv, index=False)


def release(method: str, k: int) -> Path:
    name, _, strength = method.partition(":")
    text = pipeline.replace('"../schemas/', f'"{ROOT}/schemas/').replace('"../data-samples/', f'"{ROOT}/data-samples/')
    text = text.replace("\nk = 10\n", f"\nk = {k}\n")
    text = text.replace('representation = "centroid"', f'representation = "centroid"\nmoments = "{name}"' + (f"\nmoments_strength = {strength}" if strength else ""))
    if a.noise is not None:
        text = "\n".join(f"noise_scale = {a.noise}" if l.startswith("noise_scale") else l for l in text.splitlines()) + "\n"
    pl = work / f"{name}-{strength}-{k}.toml"
    pl.write_text(text)
    out = work / f"rel-{name}-{strength}-{k}"
    env = dict(os.environ, OPENTAPE_NOISE_KEY="privacy-eval-key-0123456789")
    subprocess.run([a.opentape, "release", "--pipeline", str(pl), "--version", "1.0.0", "--input", str(train_csv), "--out", str(out)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return out / "1.0.0"


def utility(syn: pd.DataFrame, ori: pd.DataFrame):
    worst_std, worst_mean, worst_corr = 0.0, 0.0, 0.0
    for g in ori["Gender"].unique():
        o, s = ori[ori.Gender == g][meas].astype(float), syn[syn.Gender == g][meas].astype(float)
        worst_std = max(worst_std, float((100 * (s.std() - o.std()).abs() / o.std()).max()))
        worst_mean = max(worst_mean, float((100 * (s.mean() - o.mean()).abs() / o.mean()).max()))
        iu = np.triu_indices(len(meas), 1)
        worst_corr = max(worst_corr, float(np.abs(np.corrcoef(o.T.values) - np.corrcoef(s.T.values))[iu].max()))
    return worst_mean, worst_std, worst_corr


def fmt(r):
    v = r.value
    lo, hi = r.ci
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


print("| method | k | attack seed | singling out | linkability | inference (Gender) | worst mean err % | worst std err % | worst corr change |")
print("|---|---|---|---|---|---|---|---|---|")
for k in a.k:
    for method in a.methods:
        rel = release(method, k)
        syn = pq.read_table(rel / "measurements.parquet").to_pandas()[cols]
        ori, ctl = train[cols].reset_index(drop=True), control[cols].reset_index(drop=True)
        so = SinglingOutEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=a.attacks, max_attempts=100_000, seed=a.seed if a.attack_seed is None else a.attack_seed).evaluate(mode="multivariate")
        half = len(meas) // 2
        li = LinkabilityEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=a.attacks, aux_cols=(meas[:half], meas[half:])).evaluate(n_jobs=2)
        inf = InferenceEvaluator(ori=ori, syn=syn, control=ctl, aux_cols=meas, secret="Gender", n_attacks=a.attacks).evaluate(n_jobs=2)
        m, s, c = utility(syn, ori)
        print(f"| {method} | {k} | {a.seed if a.attack_seed is None else a.attack_seed} | {fmt(so.risk())} | {fmt(li.risk())} | {fmt(inf.risk())} | {m:.2f} | {s:.1f} | {c:.3f} |", flush=True)
