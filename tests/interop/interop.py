#!/usr/bin/env python3
"""Opens a release the way a researcher would: pyarrow, DuckDB, polars and pandas.

usage: interop.py RELEASE_DIR
Checks that each reader finds the declared columns (datapackage.json), their types, the
row count (manifest.json) and the Parquet key-value metadata, and that the CSV read by
pandas equals the Parquet. Exits non-zero on the first mismatch.
"""
import json
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

rel = Path(sys.argv[1])
pq_path, csv_path = rel / "measurements.parquet", rel / "measurements.csv"
dp = json.loads((rel / "datapackage.json").read_text())
manifest = json.loads((rel / "manifest.json").read_text())
fields = dp["resources"][0]["schema"]["fields"]
names = [f["name"] for f in fields]
ints = {f["name"] for f in fields if f["type"] == "integer"}
rows = manifest["counts"]["released_rows"]

# pyarrow
t = pq.read_table(pq_path)
assert t.column_names == names, ("pyarrow columns", t.column_names)
assert t.num_rows == rows, ("pyarrow rows", t.num_rows, rows)
for f in t.schema:
    want_int = f.name in ints
    assert pa.types.is_integer(f.type) == want_int, ("pyarrow type", f.name, f.type)
    assert want_int or pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or str(f.type) == "string_view", (f.name, f.type)
meta = {k.decode(): v.decode() for k, v in pq.read_metadata(pq_path).metadata.items()}
for key in ["opentape.k", "opentape.dataset_version", "opentape.representation", "opentape.tool_version"]:
    assert key in meta, ("metadata", key)
assert meta["opentape.k"] == str(manifest["parameters"]["k"])
assert meta["opentape.dataset_version"] == manifest["dataset"]["version"]

# DuckDB
con = duckdb.connect()
n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(pq_path)]).fetchone()[0]
assert n == rows, ("duckdb rows", n)
desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(pq_path)]).fetchall()
assert [d[0] for d in desc] == names, ("duckdb columns", desc)
for name, typ, *_ in desc:
    assert ("INT" in typ) == (name in ints), ("duckdb type", name, typ)
kv = {r[0].decode() if isinstance(r[0], bytes) else r[0]: r[1] for r in
      con.execute("SELECT key, value FROM parquet_kv_metadata(?)", [str(pq_path)]).fetchall()}
assert "opentape.k" in kv, ("duckdb kv metadata", kv.keys())

# polars (Python)
df = pl.read_parquet(pq_path)
assert df.columns == names and df.height == rows, ("polars", df.shape)
for name, dtype in df.schema.items():
    assert dtype.is_integer() == (name in ints), ("polars type", name, dtype)

# Nulls: every reader finds the same absent values per column, in the Parquet and in the
# CSV, and (for a release of people holding different measurements) as many present values
# per measurement as the manifest says were released.
nulls = {"pyarrow": {c: t.column(c).null_count for c in names}}
nulls["duckdb"] = {c: con.execute(f'SELECT count(*) - count("{c}") FROM read_parquet(?)', [str(pq_path)]).fetchone()[0] for c in names}
nulls["duckdb-csv"] = {c: con.execute(f'SELECT count(*) - count("{c}") FROM read_csv(?, header=true, all_varchar=true, nullstr=\'\')', [str(csv_path)]).fetchone()[0] for c in names}
nulls["polars"] = {c: df[c].null_count() for c in names}
nulls["polars-csv"] = {c: v for c, v in pl.read_csv(csv_path, infer_schema_length=0).null_count().row(0, named=True).items()}
nulls["pandas"] = {c: int(v) for c, v in pd.read_parquet(pq_path).isna().sum().items()}
for reader, got in nulls.items():
    assert got == nulls["pyarrow"], ("nulls differ", reader, {c: (got[c], nulls["pyarrow"][c]) for c in names if got[c] != nulls["pyarrow"][c]})
for name, m in manifest.get("measurements", {}).items():
    assert rows - nulls["pyarrow"][name] == m["released"], ("released values", name, rows - nulls["pyarrow"][name], m["released"])
total_nulls = sum(nulls["pyarrow"].values())

# pandas: the CSV equals the Parquet
p = pd.read_parquet(pq_path)
c = pd.read_csv(csv_path, dtype={n: "string" for n in names if n not in ints}, keep_default_na=False, na_values=[""])
for col in names:
    if col in ints:
        a, b = p[col].astype("Int64"), c[col].astype("Int64")
    else:
        a, b = p[col].astype("string"), c[col].astype("string")
    assert a.equals(b), ("CSV differs from Parquet", col)
print(f"interop: {rel}: pyarrow, DuckDB, polars and pandas agree on {len(names)} columns, {rows} rows and {total_nulls} nulls")
