#!/usr/bin/env python3
"""Privacy-utility frontier on ANSUR II, on measures that separate methods.

Splits ANSUR II 80/20 (train/control, fixed seed), releases the training part with opentape
for each method and k, and measures each release against the people it was made from (the
training part: the split alone moves the full data's means by about 0.2%, so the full data is
the wrong reference). Risks are run for several attack seeds and given as the mean with a 95%
interval over the seeds (mean +- 1.96 sd / sqrt(seeds)).

Measures (BENCHMARKS.md says why each is there):
- utility against the training part: worst mean error %, worst std error %, worst correlation
  change, worst 5/25/75/95th percentile error in training standard deviations (continuity-
  corrected for the 1 mm grid, see mid_percentile; the plain percentile is printed too),
  suppression;
- singling out with an equal-size control (anonymeter multivariate, n_cols 4, 300 attacks,
  50,000 attempts; ori = a Gender-matched random sample of the training part as large as the
  control, so anonymeter applies no size correction), next to the same attack on a
  no-information reference made in the same run ("null": each class's row replaced by a draw
  from a Gaussian with its Gender's training mean and covariance, so it says nothing about
  any person) and their difference;
- linkability on the distinct released rows (anonymeter, aux = Gender + first 46
  measurements / last 47, n_neighbors 1, 300 attacks);
- class-level linkability: the same attack (Gower distance as anonymeter's, ties to the first
  row), a link being two halves whose nearest distinct rows are the same row (the same
  class): its share among 300 training targets, t, and among 300 control targets (never
  released), c, scored as anonymeter scores an attack, (t - c) / (1 - c); t and c are printed
  too (a release's central rows draw both halves of many people, released or not);
- nearest-neighbour hit rate: the share of training people whose nearest released row of
  their Gender (z-distance, training standard deviations) is their own class's row; and
  opentape's own linkage score (report.json, risk.linkage.nearest_neighbour_share:
  hits weighted by 1 / multiplicity);
- anonymeter as configured before the `quantile` method, labelled "configured": singling out (default
  n_cols, 100,000 attempts, control 1,214 vs 4,854 with anonymeter's size correction) and
  linkability on the table with its duplicate rows. Neither separates methods: the first
  rewards shrinking the spread, the second reads near zero for any k-anonymous table.

usage: python benches/privacy_eval.py [--opentape target/debug/opentape] [--k 5 10 20]
       [--methods quantile restore:0.7 restore:1.0 none] [--seeds 0 1 2 3 4] [--noise 0.5]
       [--json results.json]
A method is `quantile`, `restore:<strength>` or `none`, optionally followed by `@standardized`
or `@whitened` (partition space) and `@median` or `@balanced` (Mondrian's cut); the defaults
are the pipeline's for that method.
Needs a venv with: anonymeter pyarrow pandas numpy.
"""
import argparse
import json
import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from anonymeter.evaluators import LinkabilityEvaluator, SinglingOutEvaluator

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("--opentape", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/opentape"))
ap.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
ap.add_argument("--methods", nargs="+", default=["quantile", "restore:0.7", "restore:1.0", "none"])
ap.add_argument("--noise", type=float, default=None, help="noise scale (default: the pipeline's)")
ap.add_argument("--attacks", type=int, default=300)
ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="attack seeds")
ap.add_argument("--split-seed", type=int, default=20261129, help="seed of the 80/20 split")
ap.add_argument("--json", default=None, help="also write every figure here")
ap.add_argument("--no-configured", action="store_true", help="skip anonymeter's configured figures")
a = ap.parse_args()

data = ROOT / "data-samples/ansur2"
frames = [pd.read_csv(data / f, encoding="cp1252") for f in ["ANSUR_II_MALE_Public.csv", "ANSUR_II_FEMALE_Public.csv"]]
frames[1] = frames[1].rename(columns={"SubjectId": "subjectid"})
full = pd.concat(frames, ignore_index=True)
rng = np.random.RandomState(a.split_seed)
perm = rng.permutation(len(full))
cut = int(0.8 * len(full))
train, control = full.iloc[perm[:cut]].reset_index(drop=True), full.iloc[perm[cut:]].reset_index(drop=True)

pipeline = (ROOT / "pipelines/ansur2.toml").read_text()
meas = [l.split(" = ")[0] for l in pipeline.splitlines() if l.endswith('= "measurement"')]
cols = ["Gender"] + meas
half = 46
aux = (["Gender"] + meas[:half], meas[half:])
ori_all, ctl = train[cols], control[cols]

work = Path(tempfile.mkdtemp(prefix="opentape-eval-"))
train_csv = work / "train.csv"
train.to_csv(train_csv, index=False)


def release(method: str, k: int):
    spec, *options = method.split("@")
    name, _, strength = spec.partition(":")
    text = pipeline.replace('"../schemas/', f'"{ROOT}/schemas/').replace('"../data-samples/', f'"{ROOT}/data-samples/')
    text = text.replace("\nk = 10\n", f"\nk = {k}\n")
    extra = f'\nmoments = "{name}"' + (f"\nmoments_strength = {strength}" if strength else "")
    for o in options:
        extra += f'\npartition_space = "{o}"' if o in ("standardized", "whitened") else f'\ncut = "{o}"'
    text = text.replace('representation = "centroid"', 'representation = "centroid"' + extra)
    if a.noise is not None:
        text = "\n".join(f"noise_scale = {a.noise}" if l.startswith("noise_scale") else l for l in text.splitlines()) + "\n"
    tag = method.replace(":", "-").replace("@", "-")
    pl = work / f"{tag}-{k}.toml"
    pl.write_text(text)
    out, private = work / f"rel-{tag}-{k}", work / f"private-{tag}-{k}"
    env = dict(os.environ, OPENTAPE_NOISE_KEY="privacy-eval-key-0123456789")
    subprocess.run([a.opentape, "release", "--pipeline", str(pl), "--version", "1.0.0", "--input", str(train_csv),
                    "--out", str(out), "--private-dir", str(private), "--quiet"], check=True, env=env, stdout=subprocess.DEVNULL)
    syn = pq.read_table(out / "1.0.0/measurements.parquet").to_pandas()[cols]
    report = json.loads((out / "1.0.0/report.json").read_text())
    member = pd.read_csv(private / "membership.csv")
    # "train.csv#i": the i-th data row of train.csv (1-based).
    member["i"] = member["record"].str.split("#").str[1].astype(int) - 1
    row_of = np.full(len(train), -1)
    row_of[member["i"].values] = member["row"].fillna(-1).astype(int).values
    return syn, report, row_of


def utility(syn: pd.DataFrame):
    worst = dict(mean=0.0, std=0.0, corr=0.0, pct=0.0)
    for g in ori_all["Gender"].unique():
        o, s = ori_all[ori_all.Gender == g][meas].astype(float), syn[syn.Gender == g][meas].astype(float)
        sd = o.std(ddof=0)
        worst["std"] = max(worst["std"], float((100 * (s.std(ddof=0) - sd).abs() / sd).max()))
        worst["mean"] = max(worst["mean"], float((100 * (s.mean() - o.mean()).abs() / o.mean()).max()))
        iu = np.triu_indices(len(meas), 1)
        worst["corr"] = max(worst["corr"], float(np.abs(np.corrcoef(o.T.values) - np.corrcoef(s.T.values))[iu].max()))
        for p in [5, 25, 75, 95]:
            e = (np.percentile(s.values, p, axis=0) - np.percentile(o.values, p, axis=0)) / sd.values
            worst["pct_grid"] = max(worst.get("pct_grid", 0.0), float(np.abs(e).max()))
            for j, m in enumerate(meas):
                e = (mid_percentile(s[m].values, p) - mid_percentile(o[m].values, p)) / sd.iloc[j]
                worst["pct"] = max(worst["pct"], abs(float(e)))
    worst["suppressed"] = 1 - len(syn) / len(ori_all)
    return worst


def mid_percentile(v, p):
    """Percentile of values on the 1 mm grid with each value spread over its step
    (continuity correction): the plain percentile of such data jumps a whole step when the
    share below a value crosses p, a jump of 0.3-0.4 sd for the narrowest measurements."""
    vals, counts = np.unique(v, return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    # The CDF at each step's upper edge (v + 0.5), linear within the step.
    edges = np.concatenate([[vals[0] - 0.5], vals + 0.5])
    heights = np.concatenate([[0.0], cdf])
    # Steps between observed values hold no mass: interpolate on the edges of observed steps.
    x = np.empty(2 * len(vals))
    y = np.empty(2 * len(vals))
    x[0::2], x[1::2] = vals - 0.5, vals + 0.5
    y[0::2], y[1::2] = heights[:-1], heights[1:]
    return float(np.interp(p / 100, y, x))


def null_reference(syn: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The release's class structure with each class's row drawn from a Gaussian with its
    Gender's training mean and covariance: no information about any person."""
    r = np.random.RandomState(1000 + seed)
    out = syn.copy()
    for g in syn["Gender"].unique():
        o = ori_all[ori_all.Gender == g][meas].astype(float)
        mu, cov = o.mean().values, np.cov(o.values.T, ddof=0)
        rows = syn[syn.Gender == g][meas]
        keys = rows.apply(tuple, axis=1)
        uniq = pd.unique(keys)
        draws = {u: np.round(r.multivariate_normal(mu, cov)) for u in uniq}
        out.loc[rows.index, meas] = np.vstack([draws[kk] for kk in keys])
    out[meas] = out[meas].astype("int64")
    return out


def gower_prep(df: pd.DataFrame, lo, rng_):
    num = ((df[meas].astype(float) - lo) / rng_).values
    return num, (df["Gender"] == "Male").values.astype(float)


def class_links(syn_distinct: pd.DataFrame, targets: pd.DataFrame) -> float:
    """Share of targets whose two halves' nearest distinct released rows (Gower, as
    anonymeter's; ties to the first row) are the same row."""
    both = pd.concat([ori_all, ctl, syn_distinct])[meas].astype(float)
    lo, rg = both.min(), (both.max() - both.min()).replace(0, 1)
    sn, sg = gower_prep(syn_distinct, lo, rg)
    tn, tg = gower_prep(targets, lo, rg)
    ia, ib = list(range(half)), list(range(half, len(meas)))
    links = 0
    for t in range(len(targets)):
        da = np.abs(sn[:, ia] - tn[t, ia]).sum(axis=1) + (sg != tg[t])
        db = np.abs(sn[:, ib] - tn[t, ib]).sum(axis=1)
        links += int(np.argmin(da) == np.argmin(db))
    return links / len(targets)


def nn_hit_rate(syn: pd.DataFrame, row_of: np.ndarray) -> float:
    """Share of training people whose nearest released row of their Gender (z-distance) is
    their own class's row."""
    hits, n = 0, 0
    key = syn[cols].apply(tuple, axis=1)
    for g in ori_all["Gender"].unique():
        o = ori_all[ori_all.Gender == g]
        sd = o[meas].astype(float).std(ddof=0).values
        s = syn[syn.Gender == g]
        first = ~key[s.index].duplicated()
        cand = s[first.values]
        pts = cand[meas].values.astype(float) / sd
        cand_key = list(key[cand.index])
        for i, person in zip(o.index, o[meas].values.astype(float) / sd):
            own = row_of[i]
            if own < 0:
                continue
            n += 1
            best = int(np.argmin(((pts - person) ** 2).sum(axis=1)))
            hits += int(cand_key[best] == key.iloc[own])
    return hits / max(n, 1)


def ci(vals):
    v = np.array(vals, dtype=float)
    h = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return float(v.mean()), float(h)


def fmt(vals):
    m, h = ci(vals)
    return f"{m:.3f} ± {h:.3f}"


def so(ori, syn, seed, **kw):
    return SinglingOutEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=a.attacks, seed=seed, **kw).evaluate(mode="multivariate").risk().value


def equal_size_ori(seed):
    r = np.random.RandomState(seed)
    parts = []
    for g, n in ctl["Gender"].value_counts().items():
        idx = ori_all.index[ori_all.Gender == g]
        parts.append(ori_all.loc[r.choice(idx, n, replace=False)])
    return pd.concat(parts).reset_index(drop=True)


results = []
print("| method | k | worst mean err % | worst std err % | worst corr change | worst pct err (sd) | same, plain percentiles | suppressed | singling out, equal-size control | same, no-information reference | difference | linkability, distinct rows | class-level linkability (t; c) | NN hit rate | opentape linkage | configured singling out | configured linkability |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for k in a.k:
    for method in a.methods:
        syn, report, row_of = release(method, k)
        u = utility(syn)
        distinct = syn.drop_duplicates().reset_index(drop=True)
        r = dict(method=method, k=k, utility=u, seeds=a.seeds, so_eq=[], so_null=[], so_diff=[], link_distinct=[], class_link=[],
                 class_link_rate=[], class_link_control=[], so_conf=[], so_conf_null=[], link_conf=[])
        for seed in a.seeds:
            ori_eq = equal_size_ori(seed)
            r["so_eq"].append(so(ori_eq, syn, seed, n_cols=4, max_attempts=50_000))
            r["so_null"].append(so(ori_eq, null_reference(syn, seed), seed, n_cols=4, max_attempts=50_000))
            r["so_diff"].append(r["so_eq"][-1] - r["so_null"][-1])
            np.random.seed(seed)
            r["link_distinct"].append(LinkabilityEvaluator(ori=ori_all, syn=distinct, control=ctl, n_attacks=a.attacks, aux_cols=aux).evaluate(n_jobs=2).risk().value)
            tr = np.random.RandomState(seed)
            t_rate = class_links(distinct, ori_all.iloc[tr.choice(len(ori_all), a.attacks, replace=False)])
            c_rate = class_links(distinct, ctl.iloc[tr.choice(len(ctl), a.attacks, replace=False)])
            r["class_link_rate"].append(t_rate)
            r["class_link_control"].append(c_rate)
            # As anonymeter scores an attack: the success beyond what the same attack achieves
            # on people who were never released.
            r["class_link"].append((t_rate - c_rate) / (1 - c_rate))
            if not a.no_configured:
                r["so_conf"].append(so(ori_all, syn, seed, max_attempts=100_000))
                r["so_conf_null"].append(so(ori_all, null_reference(syn, seed), seed, max_attempts=100_000))
                np.random.seed(seed)
                r["link_conf"].append(LinkabilityEvaluator(ori=ori_all, syn=syn, control=ctl, n_attacks=a.attacks, aux_cols=(meas[:len(meas) // 2], meas[len(meas) // 2:])).evaluate(n_jobs=2).risk().value)
        r["nn_hit_rate"] = nn_hit_rate(syn, row_of)
        r["opentape_linkage"] = report["risk"]["linkage"]["nearest_neighbour_share"]
        results.append(r)
        conf = (f'{fmt(r["so_conf"])} (no-information reference {fmt(r["so_conf_null"])})', fmt(r["link_conf"])) if not a.no_configured else ("-", "-")
        print(f"| {method} | {k} | {u['mean']:.3f} | {u['std']:.2f} | {u['corr']:.3f} | {u['pct']:.3f} | {u['pct_grid']:.3f} | {u['suppressed']:.3f} | "
              f"{fmt(r['so_eq'])} | {fmt(r['so_null'])} | {fmt(r['so_diff'])} | {fmt(r['link_distinct'])} | "
              f"{fmt(r['class_link'])} ({ci(r['class_link_rate'])[0]:.3f}; {ci(r['class_link_control'])[0]:.3f}) | {r['nn_hit_rate']:.3f} | {r['opentape_linkage']:.4f} | {conf[0]} | {conf[1]} |", flush=True)
if a.json:
    Path(a.json).write_text(json.dumps(results, indent=1))
