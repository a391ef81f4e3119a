#!/usr/bin/env python3
"""Second opinion on k from an independent tool: pycanon (PyPI) on a release's Parquet.

usage: check_k.py RELEASE_DIR MIN_K
Every category and measurement column is a quasi-identifier. Exits 1 if k < MIN_K.
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
# pycanon groups with pandas, which drops NaN keys: fill absent values with a sentinel.
df = df.fillna(-1)
k = anonymity.k_anonymity(df, qi)
meta = {key.decode(): value.decode() for key, value in (pq.read_metadata(release / "measurements.parquet").metadata or {}).items()}
print(f"pycanon: {release}: k = {k} over {len(qi)} quasi-identifiers, {len(df)} rows; "
      f"parquet metadata k = {meta.get('opentape.k')}")
if k < min_k or meta.get("opentape.k") != str(manifest["parameters"]["k"]):
    sys.exit(1)
