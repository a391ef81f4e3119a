"""Peer comparison: opentape against anjana and anonypy on one table.

The table: 100,000 synthetic people from `opentape sample` (seed 1), five numeric
measurements (chest, waist, hips, inseam, neck, in mm) and has_breasts; k = 10. For each
tool: wall time of the anonymization, rows suppressed, information loss, and k as
pycanon measures it on the tool's own output.

Information loss, over the five measurements:
- NCP: normalized certainty penalty, the mean over rows and columns of the released
  interval's width divided by the column's range (0 = exact values, 1 = whole range).
  A released single value has width 0; a suppressed row counts as the whole range.
- MAE: mean absolute error in mm of the released value (an interval's midpoint) against
  the person's own value, over released rows.

Times: anjana and anonypy are timed around their Python call (the table already in
memory). opentape gets two figures: the whole `opentape release` process (reading the CSV,
filtering, partitioning, noise, linkage check, writing Parquet + CSV + documents, and
verifying them), which includes work the others do not do, and its anonymization stages
alone (partitioning + generalizing/noise, from `release --timings`), the like-for-like
figure.

usage: [PEERS=anonypy,anjana] [PEERS_CENTROID=$'\nmoments = "restore"'] python benches/peers.py OPENTAPE_BIN WORK_DIR [ROWS] [TIMEOUT_SECONDS]
  (PEERS_CENTROID: extra [release] lines for the centroid run, e.g. another method)
  (from a venv with: pip install anjana anonypy pycanon pandas pyarrow)
A peer still running after TIMEOUT_SECONDS (default 1800) is stopped and reported as such.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

MEAS = ["chest", "waist", "hips", "inseam", "neck"]
QI = MEAS + ["has_breasts"]
K = 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plausible_ranges():
    import tomllib
    with open(os.path.join(ROOT, "schemas", "freesewing-measurements.toml"), "rb") as f:
        cat = tomllib.load(f)
    return {m["name"]: (m["min"], m["max"]) for m in cat["measurement"] if m["name"] in MEAS}


def make_table(bin_, work, rows):
    """The same clean table for every tool: the sample's deliberately implausible values
    (which opentape quarantines and the peers would anonymize) are left out here."""
    ranges = plausible_ranges()
    src = os.path.join(work, "sample")
    subprocess.run([bin_, "sample", "--format", "freesewing-v3", "--people", str(int(rows * 1.3)),
                    "--seed", "1", "--out", src, "--as-of", "2026-11-29", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    out = []
    with open(os.path.join(src, "sets.ndjson")) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            m = rec.get("measies")
            if isinstance(m, str):
                try:
                    m = json.loads(m)
                except ValueError:
                    continue
            if not isinstance(m, dict) or not all(isinstance(m.get(c), (int, float)) for c in MEAS):
                continue
            if not all(ranges[c][0] <= m[c] <= ranges[c][1] for c in MEAS):
                continue
            out.append({"id": len(out) + 1, "has_breasts": "true" if "bustFront" in m else "false",
                        **{c: int(round(m[c])) for c in MEAS}})
            if len(out) == rows:
                break
    df = pd.DataFrame(out)
    df.to_csv(os.path.join(work, "peers.csv"), index=False)
    return df


def ncp_mae(widths, mids, df, kept_index):
    """widths/mids: DataFrames over released rows (index = original row), MEAS columns."""
    span = {c: float(df[c].max() - df[c].min()) for c in MEAS}
    n = len(df)
    ncp = 0.0
    for c in MEAS:
        ncp += (widths[c] / span[c]).sum() + (n - len(widths))  # suppressed: whole range
    ncp /= n * len(MEAS)
    mae = float(np.mean([np.abs(mids[c] - df.loc[kept_index, c]).mean() for c in MEAS]))
    return ncp, mae


def pycanon_k(table):
    from pycanon import anonymity
    return int(anonymity.k_anonymity(table, QI))


def run_anjana(df):
    import anjana.anonymity as an
    from anjana.anonymity import utils
    data = df.copy()
    hier = {}
    for c in MEAS:
        lo, hi = int(data[c].min()) - 1, int(data[c].max()) + 1
        levels = {0: data[c].values}
        for i, step in enumerate([10, 25, 50, 100, 250], start=1):
            levels[i] = np.array(utils.generate_intervals(data[c].values, lo - lo % step, hi + step, step))
        hier[c] = levels
    hier["has_breasts"] = {0: data["has_breasts"].values, 1: np.array(["*"] * len(data))}
    t0 = time.perf_counter()
    out = an.k_anonymity(data, ["id"], QI, K, 2, hier)
    secs = time.perf_counter() - t0
    kept = out.index
    widths, mids = pd.DataFrame(index=kept), pd.DataFrame(index=kept)
    for c in MEAS:
        col = out[c].astype(str)
        w, m = [], []
        for v, orig in zip(col, df.loc[kept, c]):
            if v.startswith("["):
                a, b = (float(x) for x in v.strip("[)").split(","))
                w.append(b - a)
                m.append((a + b) / 2)
            elif v == "*":
                w.append(float(df[c].max() - df[c].min()))
                m.append(float(df[c].mean()))
            else:
                w.append(0.0)
                m.append(float(v))
        widths[c], mids[c] = w, m
    ncp, mae = ncp_mae(widths, mids, df, kept)
    return {"tool": "anjana (hierarchies of 10-250 mm intervals)", "seconds": secs,
            "suppressed": len(df) - len(out), "ncp": ncp, "mae_mm": mae, "k": pycanon_k(out[QI])}


def run_anonypy(df):
    import anonypy
    data = df.copy()
    data["has_breasts"] = data["has_breasts"].astype("category")
    data["sensitive"] = pd.Categorical(["x"] * len(data))  # anonypy needs one; constant here
    t0 = time.perf_counter()
    m = anonypy.mondrian.Mondrian(data, QI, "sensitive")
    parts = m.partition(K)
    rows = anonypy.anonymize(m.df, parts, QI, "sensitive")
    secs = time.perf_counter() - t0
    widths, mids, kept = [], [], []
    for p in parts:
        sub = df.loc[p]
        w = {c: float(sub[c].max() - sub[c].min()) for c in MEAS}
        mid = {c: float(sub[c].max() + sub[c].min()) / 2 for c in MEAS}
        for i in p:
            widths.append(w)
            mids.append(mid)
            kept.append(i)
    widths = pd.DataFrame(widths, index=kept)
    mids = pd.DataFrame(mids, index=kept)
    ncp, mae = ncp_mae(widths, mids, df, kept)
    table = pd.DataFrame([{c: r[c][0] if isinstance(r[c], list) else r[c] for c in QI}
                          for r in rows for _ in range(r["count"])])
    return {"tool": "anonypy (Mondrian)", "seconds": secs, "suppressed": len(df) - len(kept),
            "ncp": ncp, "mae_mm": mae, "k": pycanon_k(table)}


def run_opentape(bin_, work, df, representation):
    pipe = os.path.join(work, f"peers-{representation}.toml")
    roles = "\n".join(f'{c} = "measurement"' for c in MEAS)
    with open(pipe, "w") as f:
        f.write(f"""[dataset]
name = "peers-benchmark"
title = "Peer comparison table"
description = "Synthetic people from opentape sample, five measurements and has_breasts."
license = "CC0-1.0"

[input]
format = "table"
default = []
catalog = "{ROOT}/schemas/freesewing-measurements.toml"

[roles.row]
id = "owner"
has_breasts = "category"
{roles}

[categories]
has_breasts = {{ field = "row.has_breasts", values = ["false", "true"] }}

[filters.consent]
waived = "synthetic benchmark table"

[filters.retention]
waived = "synthetic benchmark table"

[filters.dedupe]
tolerance = 0

[filters.plausibility]
max_rejected = 0.01

[release]
k = {K}
max_suppressed = 0.02
representation = "{representation}"{os.environ.get("PEERS_CENTROID", "") if representation == "centroid" else ""}
noise_scale = 0.5
measurements = {json.dumps(MEAS)}
""")
    out, private = os.path.join(work, f"rel-{representation}"), os.path.join(work, f"priv-{representation}")
    env = dict(os.environ, OPENTAPE_NOISE_KEY="peers-benchmark-key-0123456789")
    t0 = time.perf_counter()
    run = subprocess.run([bin_, "release", "--pipeline", pipe, "--input", os.path.join(work, "peers.csv"),
                          "--version", "1.0.0", "--out", out, "--private-dir", private, "--quiet",
                          "--timings"],
                         check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t0
    stages = {}
    for line in run.stderr.splitlines():
        if line.startswith("timing"):
            _, t, _, name = line.split(None, 3)
            stages[name] = float(t)
    anon = stages["partitioning into k-anonymous classes"] + \
        stages["generalizing, restoring moments and adding noise"]
    rel = pd.read_parquet(os.path.join(out, "1.0.0", "measurements.parquet"))
    member = pd.read_csv(os.path.join(private, "membership.csv"))
    member = member.dropna(subset=["row"])
    # Records are "peers.csv#N", N the 1-based data row.
    orig_index = member["record"].str.split("#").str[1].astype(int) - 1
    rows = rel.iloc[member["row"].astype(int).values].reset_index(drop=True)
    rows.index = orig_index.values
    if representation == "range":
        widths = pd.DataFrame({c: (rows[f"{c}_max"] - rows[f"{c}_min"]).astype(float) for c in MEAS})
        mids = pd.DataFrame({c: (rows[f"{c}_max"] + rows[f"{c}_min"]) / 2 for c in MEAS})
        table = pd.DataFrame({c: rel[f"{c}_min"].astype(str) + "-" + rel[f"{c}_max"].astype(str) for c in MEAS})
        table["has_breasts"] = rel["has_breasts"]
    else:
        widths = pd.DataFrame({c: np.zeros(len(rows)) for c in MEAS}, index=rows.index)
        mids = pd.DataFrame({c: rows[c].astype(float) for c in MEAS})
        table = rel[QI]
    assert (rows["has_breasts"].values == df.loc[rows.index, "has_breasts"].values).all(), "row mapping"
    ncp, mae = ncp_mae(widths, mids, df, rows.index)
    return {"tool": f"opentape ({representation})", "seconds": secs, "anonymization_seconds": anon,
            "suppressed": len(df) - len(rows), "ncp": ncp, "mae_mm": mae, "k": pycanon_k(table)}


def _child(f, df, q):
    try:
        q.put(f(df))
    except Exception as e:  # a peer that fails is reported, not hidden
        q.put({"tool": f.__name__, "error": repr(e)})


def with_timeout(f, df, timeout):
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(f, df, q))
    t0 = time.perf_counter()
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.terminate()
        p.join()
        return {"tool": f.__name__, "error": f"still running after {time.perf_counter() - t0:.0f} s: stopped"}
    return q.get()


def main():
    bin_, work = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 1800.0
    os.makedirs(work, exist_ok=True)
    df = make_table(bin_, work, rows)
    results = [run_opentape(bin_, work, df, "centroid"), run_opentape(bin_, work, df, "range")]
    for r in results:
        print(json.dumps(r), file=sys.stderr, flush=True)
    peers = [f for f in (run_anonypy, run_anjana) if f.__name__[4:] in os.environ.get("PEERS", "anonypy,anjana")]
    for f in peers:
        results.append(with_timeout(f, df, timeout))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(f"{len(df)} rows, 5 measurements + has_breasts, k = {K}\n")
    print("| tool | seconds (whole run) | seconds (anonymization) | not released | NCP | MAE mm | k (pycanon) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['tool']} | failed: {r['error']} | | | | | |")
        else:
            anon = r.get("anonymization_seconds", r["seconds"])
            print(f"| {r['tool']} | {r['seconds']:.2f} | {anon:.3f} | {r['suppressed']} | {r['ncp']:.4f} | {r['mae_mm']:.2f} | {r['k']} |")


if __name__ == "__main__":
    main()
