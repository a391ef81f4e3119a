#!/usr/bin/env python3
"""How much of a sparse FreeSewing export a release keeps, and how close its statistics are.

usage: sparse_eval.py SOURCE_DIR PRIVATE_DIR RELEASE_DIR [--min-people 200] [--json]

SOURCE_DIR: what was released from: a v3 NDJSON dump (sets.ndjson) or a v2 export
(people.json: JSON array, or mongoexport lines). PRIVATE_DIR: the release's --private-dir
(membership.csv says which records were eligible and where each went; dropped.csv where the
others went). RELEASE_DIR: the published version.

Figures (the sparse sets' targets):
- people: released people / people the rules allow (consent, account, retention), and
  values: released values / values those people hold;
- per measurement released for >= --min-people people: mean and standard deviation of the
  released column against the eligible people who hold the measurement (%);
- per pair of measurements released together for >= --min-people people: correlation of
  the released rows holding both against the eligible people holding both;
- the same for the released people's own values (the selection effect of suppression).
Standard library only (and numpy when present for speed: not needed).
"""
import csv
import json
import math
import re
import sys
from pathlib import Path

BREASTS_ONLY = {"bustFront", "bustSpan", "highBust", "highBustFront", "hpsToWaistFront", "underbust",
                "waistToUnderbust"}


def load_catalog(repo):
    """name and alias -> canonical name, from the shipped FreeSewing catalog (tomllib)."""
    import tomllib
    cat = tomllib.loads((repo / "schemas/freesewing-measurements.toml").read_text())
    names = {}
    for m in cat["measurement"]:
        names[m["name"]] = m["name"]
        for a in m.get("aliases", []):
            names[a] = m["name"]
    return names, [m["name"] for m in cat["measurement"]]


def source_records(src, names):
    """record key (file#position) -> (measurements dict, has_breasts or None)."""
    out = {}
    truth = src / "truth.json"
    if truth.exists():
        # A store from benches/sparse_store.py: its sets as written, by id.
        t = json.loads(truth.read_text())
        for sid, x in t["sets"].items():
            out[f"{t['file']}#{sid}"] = (x["measurements"], None)
        return out
    sets = src / "sets.ndjson"
    if sets.exists():
        for n, line in enumerate(sets.open(encoding="utf-8"), start=1):
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
            if not isinstance(m, dict):
                continue
            out[f"sets.ndjson#{n}"] = (m, None)
        return out
    people = src / "people.json"
    text = people.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        docs = list(enumerate(json.loads(text)))
    else:
        docs = [(n, json.loads(l)) for n, l in enumerate(text.splitlines(), start=1) if l.strip()]
    for n, rec in docs:
        m = rec.get("measurements")
        if isinstance(m, dict):
            out[f"people.json#{n}"] = (m, rec.get("breasts"))
    return out


def held(meas, breasts, names):
    """canonical name -> value, numeric and positive only; breasts-only cleared where the
    record says it has none."""
    v = {}
    for k, x in meas.items():
        name = names.get(k)
        if name is None or isinstance(x, bool) or not isinstance(x, (int, float)):
            continue
        if isinstance(x, dict):
            continue
        if breasts is False and name in BREASTS_ONLY:
            continue
        v[name] = float(x)
    return v


def mean_std(xs):
    n = len(xs)
    m = sum(xs) / n
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / n)


def corr(pairs):
    n = len(pairs)
    ma = sum(a for a, _ in pairs) / n
    mb = sum(b for _, b in pairs) / n
    sa = math.sqrt(sum((a - ma) ** 2 for a, _ in pairs) / n)
    sb = math.sqrt(sum((b - mb) ** 2 for _, b in pairs) / n)
    if sa == 0 or sb == 0:
        return 0.0
    return sum((a - ma) * (b - mb) for a, b in pairs) / n / (sa * sb)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    min_people = 200
    if "--min-people" in sys.argv:
        min_people = int(sys.argv[sys.argv.index("--min-people") + 1])
        args.remove(str(min_people))
    src, private, rel = map(Path, args[:3])
    repo = Path(__file__).resolve().parent.parent
    names, order = load_catalog(repo)
    records = source_records(src, names)
    member = {}
    with open(private / "membership.csv", newline="") as f:
        for r in csv.DictReader(f):
            member[r["record"]] = r["row"]
    # dropped.csv names a record as "path, line N" (or "index N"): the same file#position.
    allowed_extra = []
    with open(private / "dropped.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["stage"] not in ("plausibility", "dedupe"):
                continue
            m = re.match(r"(.*), (?:line|index) (\d+)", r["record"])
            if m:
                allowed_extra.append(f"{Path(m.group(1)).name}#{m.group(2)}")
    eligible = {k: held(*records[k], names) for k in member if k in records}
    truth = src / "truth.json"
    if truth.exists():
        # Who FreeSewing's rules allow, as the store's maker knows it (not as opentape read
        # it), and the values they hold.
        t = json.loads(truth.read_text())
        allowed = [x for x in t["sets"].values() if x["allowed"]]
        allowed_people = len(allowed)
        allowed_values = sum(len(held(x["measurements"], None, names)) for x in allowed)
    else:
        allowed_values = sum(len(v) for v in eligible.values())
        for k in allowed_extra:
            if k in records:
                allowed_values += len(held(*records[k], names))
        allowed_people = len(member) + len(allowed_extra)
    with open(rel / "measurements.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    meas = [c for c in rows[0].keys() if c in order] if rows else []
    released_values = sum(1 for r in rows for c in meas if r[c] != "")
    out = {
        "allowed_people": allowed_people,
        "eligible_people": len(member),
        "released_people": len(rows),
        "people_share": len(rows) / max(allowed_people, 1),
        "allowed_values": allowed_values,
        "released_values": released_values,
        "values_share": released_values / max(allowed_values, 1),
    }
    # Per measurement, against the eligible people who hold it.
    rel_cols = {c: [float(r[c]) for r in rows if r[c] != ""] for c in meas}
    placed = {k for k, row in member.items() if row != ""}
    per = {}
    worst = {"mean_error_pct": 0.0, "std_error_pct": 0.0, "selection_mean_pct": 0.0, "selection_std_pct": 0.0}
    for c in meas:
        hold = [v[c] for v in eligible.values() if c in v]
        got = rel_cols[c]
        if len(got) < min_people or len(hold) < 2:
            continue
        (mh, sh), (mr, sr) = mean_std(hold), mean_std(got)
        e = {"holders": len(hold), "released": len(got),
             "mean_error_pct": 100 * (mr - mh) / mh, "std_error_pct": 100 * (sr - sh) / sh}
        worst["mean_error_pct"] = max(worst["mean_error_pct"], abs(e["mean_error_pct"]))
        worst["std_error_pct"] = max(worst["std_error_pct"], abs(e["std_error_pct"]))
        per[c] = e
    # Correlations, pairwise complete.
    idx = {c: i for i, c in enumerate(meas)}
    rel_rows = [[float(r[c]) if r[c] != "" else None for c in meas] for r in rows]
    elig_rows = [[v.get(c) for c in meas] for v in eligible.values()]
    diffs = []
    for a in range(len(meas)):
        for b in range(a + 1, len(meas)):
            rp = [(r[a], r[b]) for r in rel_rows if r[a] is not None and r[b] is not None]
            if len(rp) < min_people:
                continue
            ep = [(r[a], r[b]) for r in elig_rows if r[a] is not None and r[b] is not None]
            diffs.append((abs(corr(rp) - corr(ep)), meas[a], meas[b], len(rp)))
    diffs.sort(reverse=True)
    out["measurements_checked"] = len(per)
    out["worst"] = {"mean_error_pct": round(worst["mean_error_pct"], 3), "std_error_pct": round(worst["std_error_pct"], 2),
                    "correlation_change": round(diffs[0][0], 4) if diffs else 0.0,
                    "correlation_pairs": len(diffs),
                    "correlation_median": round(sorted(d[0] for d in diffs)[len(diffs) // 2], 4) if diffs else 0.0}
    out["worst_pairs"] = [[round(d[0], 3), d[1], d[2], d[3]] for d in diffs[:5]]
    out["worst_measurements"] = sorted(
        ([c, round(e["mean_error_pct"], 3), round(e["std_error_pct"], 2), e["holders"], e["released"]] for c, e in per.items()),
        key=lambda x: -max(abs(x[1]) / 0.5, abs(x[2]) / 3))[:5]
    # The same per category (has_breasts): where pooled figures differ from these, the
    # combinations' shares of the released values differ from their shares of holders.
    if "has_breasts" in (rows[0].keys() if rows else []):
        cat_of = lambda v, b: ("true" if (b if b is not None else any(c in BREASTS_ONLY for c in v)) else "false")
        elig_cat = [cat_of(v, records[k][1]) for k, v in eligible.items()]
        out["per_category"] = {}
        for cv in ("false", "true"):
            rr = [r for r, row in zip(rel_rows, rows) if row["has_breasts"] == cv]
            ee = [r for r, c in zip(elig_rows, elig_cat) if c == cv]
            wm = ws = wc = 0.0
            for a in range(len(meas)):
                got = [r[a] for r in rr if r[a] is not None]
                hold = [r[a] for r in ee if r[a] is not None]
                if len(got) >= min_people and len(hold) > 1:
                    (mh, sh), (mr, sr) = mean_std(hold), mean_std(got)
                    wm = max(wm, abs(100 * (mr - mh) / mh))
                    ws = max(ws, abs(100 * (sr - sh) / sh)) if sh > 0 else ws
                for b in range(a + 1, len(meas)):
                    rp = [(r[a], r[b]) for r in rr if r[a] is not None and r[b] is not None]
                    if len(rp) < min_people:
                        continue
                    ep = [(r[a], r[b]) for r in ee if r[a] is not None and r[b] is not None]
                    wc = max(wc, abs(corr(rp) - corr(ep)))
            out["per_category"][cv] = {"people": len(rr), "mean_error_pct": round(wm, 3),
                                       "std_error_pct": round(ws, 2), "correlation_change": round(wc, 4)}
    if "--json" in sys.argv:
        print(json.dumps(out, indent=1))
    else:
        print(f"people {out['released_people']}/{out['allowed_people']} = {out['people_share']:.3f}; "
              f"values {out['released_values']}/{out['allowed_values']} = {out['values_share']:.3f}")
        print(f"worst: mean {out['worst']['mean_error_pct']}%  std {out['worst']['std_error_pct']}%  "
              f"corr {out['worst']['correlation_change']} (median {out['worst']['correlation_median']}, "
              f"{out['worst']['correlation_pairs']} pairs, {out['measurements_checked']} measurements)")
        print("worst measurements [name, mean%, std%, holders, released]:", out["worst_measurements"])
        print("worst pairs [change, a, b, people]:", out["worst_pairs"])
        for cv, f in out.get("per_category", {}).items():
            print(f"  has_breasts={cv}: {f}")


if __name__ == "__main__":
    main()
