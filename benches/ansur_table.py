#!/usr/bin/env python3
"""A wide research table at scale, made from the shipped ANSUR II files.

Writes OUT_DIR/ANSUR_II_MALE_Public.csv and OUT_DIR/ANSUR_II_FEMALE_Public.csv with ROWS
rows in all (the two files' shares kept): each row is a real ANSUR II row drawn at random
(seeded) whose every measurement is scaled by its own random factor, 1 + N(0, 0.01)
clipped to +-3%, and rounded to the file's unit; every row gets a new subject id (one
person, one owner). Other columns are copied as they are, so the pipeline reads the
table exactly as it reads the real one (same roles, same encodings and CRLF line ends: the
male file stays Windows-1252). Standard library only. Same seed, same bytes.

usage: python3 benches/ansur_table.py ROWS OUT_DIR [SEED]
"""
import csv
import os
import random
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = [("ANSUR_II_MALE_Public.csv", "cp1252", "subjectid"),
         ("ANSUR_II_FEMALE_Public.csv", "utf-8", "SubjectId")]


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with open(os.path.join(ROOT, "pipelines", "ansur2.toml"), "rb") as f:
        roles = tomllib.load(f)["roles"]["row"]
    measurement = {c for c, r in roles.items() if r == "measurement"}
    sources = []
    for name, enc, _ in FILES:
        with open(os.path.join(ROOT, "data-samples", "ansur2", name), encoding=enc, newline="") as f:
            r = csv.reader(f)
            header = next(r)
            sources.append((header, list(r)))
    total = sum(len(s[1]) for s in sources)
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    next_id = 1
    for i, ((name, enc, id_col), (header, src)) in enumerate(zip(FILES, sources)):
        n = rows * len(src) // total if i == 0 else rows - rows * len(sources[0][1]) // total
        scaled = [j for j, c in enumerate(header) if c in measurement]
        id_j = header.index(id_col)
        with open(os.path.join(out, name), "w", encoding=enc, newline="") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(header)
            for _ in range(n):
                row = list(rng.choice(src))
                for j in scaled:
                    factor = min(1.03, max(0.97, 1.0 + rng.gauss(0.0, 0.01)))
                    row[j] = str(round(float(row[j]) * factor))
                row[id_j] = str(next_id)
                next_id += 1
                w.writerow(row)
    print(f"wrote {rows} rows to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
