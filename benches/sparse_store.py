#!/usr/bin/env python3
"""A FreeSewing backend database with realistic entry, made without opentape's code.

usage: sparse_store.py OUT_DIR SETS SEED

Each set holds what its owner entered (FreeSewing's own lists, schemas/freesewing-designs.json):
8% complete, 10% came from v2 (v2 designs' measurements, never the v3-only waistToArmpit and
bustPointToUnderbust), the rest the measurements of the 1, 2, 3 or 5 v3.0 designs its
owner made (required and optional); a body without breasts holds no breasts-only one.
Bodies are FreeSewing's base sizes (tests/fixtures/freesewing_sizes_per_size.csv) moved by
a person's overall size and a few percent per measurement: another body model than
`opentape sample`'s. Accounts follow the backend's rules: consent 0-3, status, roles, test
accounts, last seen, as the committed fixture's generator
(tests/fixtures/make_freesewing_store.py, whose DDL and encryption this reuses).

Writes backend.sqlite, encryption.key and truth.json: per set id its owner, measurements
and whether FreeSewing's rules allow it (consent >= 2, status 1, role not blocked, not a
test account, seen within 365 days of 2026-12-01): what benches/sparse_eval.py compares a
release with, independently of how opentape reads the store.
"""
import importlib.util
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
spec = importlib.util.spec_from_file_location("fixture", REPO / "tests/fixtures/make_freesewing_store.py")
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

DESIGNS = json.loads((REPO / "schemas/freesewing-designs.json").read_text())
V3_ONLY = {"waistToArmpit", "bustPointToUnderbust"}


def designs(version):
    out = []
    for d in DESIGNS[version].values():
        names = set(d["measurements"]) | set(d["optionalMeasurements"])
        if names:
            out.append(names)
    return out


def main(out, n_sets, seed):
    rng = random.Random(seed)
    fx.rng.seed(seed)
    v3, v2 = designs("v3.0"), designs("v2")
    sizes = {
        True: [v for k, v in fx.SIZE.items() if k.startswith("cisFemale")],
        False: [v for k, v in fx.SIZE.items() if k.startswith("cisMale")],
    }

    def body(breasts):
        base = rng.choice(sizes[breasts])
        scale = 1 + rng.gauss(0, 0.03)
        m = {}
        for k, v in base.items():
            if k in fx.BREASTS_ONLY and not breasts:
                continue
            if k == "shoulderSlope":
                m[k] = round(v + rng.gauss(0, 1.5))
            else:
                m[k] = round(v * scale * (1 + rng.gauss(0, 0.03)))
        return m

    def held(breasts):
        r = rng.random()
        everything = set(fx.SIZE["cisFemaleAdult34"].keys())
        if r < 0.08:
            names = set(everything)
            if rng.random() < 0.1:
                names -= V3_ONLY
        elif r < 0.18:
            names = set()
            for _ in range(rng.choice([1, 2, 3, 5])):
                names |= rng.choice(v2)
            names -= V3_ONLY
        else:
            names = set()
            for _ in range(rng.choice([1, 2, 3, 5])):
                names |= rng.choice(v3)
        if not breasts:
            names -= fx.BREASTS_ONLY
        return names

    os.makedirs(out, exist_ok=True)
    db = os.path.join(out, "backend.sqlite")
    if os.path.exists(db):
        os.remove(db)
    con = fx.sqlite3.connect(db)
    con.executescript(fx.DDL)
    truth = {"file": "backend.sqlite", "sets": {}}
    sid, uid = 1000, 0
    as_of = fx.AS_OF_MS
    users = []
    rows = []
    while sid - 1000 < n_sets:
        uid += 1
        consent = rng.choices([0, 1, 2, 3], [5, 17, 70, 8])[0]
        status = rng.choices([1, 0, -1, -2], [94, 3, 2, 1])[0]
        role = "blocked" if rng.random() < 0.005 else "user"
        test = rng.random() < 0.01
        email = f"test_{uid}@freesewing.dev" if test else f"person{uid}@example.org"
        days = rng.randint(0, 330) if rng.random() < 0.85 else rng.randint(400, 2200)
        never = rng.random() < 0.02
        seen = None if never else as_of - days * fx.DAY_MS
        allowed = consent >= 2 and status == 1 and role != "blocked" and not test and not never and days <= 365
        users.append((uid, consent, status, role, seen, email))
        for _ in range(rng.choices([1, 2, 3], [70, 20, 10])[0]):
            if sid - 1000 >= n_sets:
                break
            sid += 1
            breasts = rng.random() < 0.55
            full = body(breasts)
            names = held(breasts)
            m = {k: v for k, v in full.items() if k in names}
            enc = rng.choice(["single", "double", "double", "clear"])
            text = fx.encrypt(m) if enc == "single" else fx.encrypt(fx.js(m)) if enc == "double" else fx.js(m)
            rows.append((sid, uid, text))
            truth["sets"][str(sid)] = {"owner": uid, "allowed": allowed, "measurements": m}
    for (i, consent, status, role, seen, email) in users:
        con.execute(
            'INSERT INTO "User" (id, bio, compare, consent, control, createdAt, data, ehash, email, ihash, initial, imperial, jwtCalls, keyCalls, language, lastSeen, lusername, mfaSecret, mfaEnabled, newsletter, password, patron, role, status, updatedAt, username, uuid, nlid) '
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (i, fx.encrypt(""), 1, consent, 1, fx.date(as_of - 900 * fx.DAY_MS, fx.forms()), fx.encrypt(fx.js({})),
             f"{i:064x}", fx.encrypt(email), f"{i:064x}", fx.encrypt(email), 0, 0, 0, "en",
             None if seen is None else fx.date(seen, fx.forms()), f"user{i}", "", 0, 0,
             fx.js({"type": "v3", "data": "x", "salt": "y"}), 0, role, status,
             fx.date(as_of - 10 * fx.DAY_MS, fx.forms()), f"user{i}",
             f"10000000-0000-4000-8000-{i:012d}", f"20000000-0000-4000-8000-{i:012d}"),
        )
    for (i, owner, text) in rows:
        con.execute(
            'INSERT INTO "Set" (id, createdAt, img, imperial, name, notes, userId, measies, public, updatedAt, uuid) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
            (i, fx.date(as_of - 400 * fx.DAY_MS, fx.forms()), None, 0, fx.encrypt("Me"), fx.encrypt(""), owner, text, 0,
             fx.date(as_of - 10 * fx.DAY_MS, fx.forms()), f"30000000-0000-4000-8000-{i:012d}"),
        )
    con.commit()
    con.close()
    with open(os.path.join(out, "encryption.key"), "w") as f:
        f.write(fx.KEY + "\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f)
    allowed = sum(1 for s in truth["sets"].values() if s["allowed"])
    print(f"{out}: {len(rows)} sets, {allowed} allowed, {len(users)} accounts", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
