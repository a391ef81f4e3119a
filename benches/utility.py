#!/usr/bin/env python3
"""Utility kept by a release: released vs eligible data, per category stratum.

usage: utility.py RELEASE_DIR SOURCE_CSV... [--category Gender]
Reads the source table(s) (cp1252 tolerated), keeps the released measurement columns,
and prints per stratum: mean error (% of eligible mean), standard deviation error (%),
and the largest and median absolute change of the correlation matrix.
Source rows are matched by stratum only (the release holds no row identity).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ap = argparse.ArgumentParser()
ap.add_argument("release")
ap.add_argument("source", nargs="+")
ap.add_argument("--category", default="Gender")
a = ap.parse_args()

rel = pq.read_table(Path(a.release) / "measurements.parquet").to_pandas()
manifest = json.loads((Path(a.release) / "manifest.json").read_text())
cols = manifest["columns"]["measurements"]
src = pd.concat([pd.read_csv(p, encoding="cp1252") for p in a.source], ignore_index=True)
print(f"release {a.release}: k={manifest['parameters']['k']}, representation={manifest['parameters']['representation']}, "
      f"moments={manifest['parameters'].get('moments')}, noise scale={manifest['parameters']['noise']['scale']}")
print("| stratum | people | mean err % (median / max) | std err % (median / max) | corr change (median / max) |")
print("|---|---|---|---|---|")
for value, r in rel.groupby(a.category):
    s = src[src[a.category] == value][cols].astype(float)
    r = r[cols].astype(float)
    mean_err = (100 * (r.mean() - s.mean()).abs() / s.mean().abs()).to_numpy()
    std_err = (100 * (r.std() - s.std()) / s.std()).to_numpy()
    cs, cr = np.corrcoef(s.to_numpy().T), np.corrcoef(r.to_numpy().T)
    iu = np.triu_indices(len(cols), 1)
    dc = np.abs(cs - cr)[iu]
    print(f"| {a.category}={value} | {len(r)} | {np.median(mean_err):.3f} / {mean_err.max():.3f} | "
          f"{np.median(std_err):+.1f} / {std_err[np.argmax(np.abs(std_err))]:+.1f} | {np.median(dc):.3f} / {dc.max():.3f} |")
