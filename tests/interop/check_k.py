#!/usr/bin/env python3
"""Second opinion on k from independent tools: pycanon (PyPI) and pandas on a release's Parquet.

usage: check_k.py RELEASE_DIR MIN_K
Every category and measurement column is a quasi-identifier; an absent value (null) is a
value like any other (a row's measurement pattern is part of what k people share). Exits 1
if k < MIN_K.
"""
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
from pycanon import anonymity

release, min_k = Path(sys.argv[1]), int(sys.argv[2])
table = pq.read_table(release / "measurements.parquet")
df = table.to_pandas()
manifest = json.loads((release / "manifest.json").read_text())
qi = manifest["columns"]["categories"] + manifest["columns"]["measurements"]
assert sorted(qi) == sorted(df.columns), f"columns differ from the manifest: {sorted(df.columns)}"
# pandas itself, nulls kept as group keys: the smallest group of identical rows.
smallest = int(df.groupby(qi, dropna=False).size().min()) if len(df) else 0
# pycanon groups with pandas, which drops NaN keys: fill absent values with a sentinel.
df = df.fillna(-1)
k = anonymity.k_anonymity(df, qi)
meta = {key.decode(): value.decode() for key, value in (pq.read_metadata(release / "measurements.parquet").metadata or {}).items()}
nulls = int(df.eq(-1).sum().sum())
print(f"pycanon: {release}: k = {k} over {len(qi)} quasi-identifiers, {len(df)} rows, {nulls} nulls; "
      f"pandas groupby(dropna=False): smallest group {smallest}; parquet metadata k = {meta.get('opentape.k')}")
if k < min_k or smallest < min_k or k != smallest or meta.get("opentape.k") != str(manifest["parameters"]["k"]):
    sys.exit(1)
