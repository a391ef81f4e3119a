#!/usr/bin/env python3
# Dumps the backend database's User and Set tables as NDJSON, one row per line (as
# `sqlite3 -json` prints rows), with Set.measies and User.email decrypted: the same
# people as the database, in clear, for the reading benchmark's NDJSON side.
import hashlib, json, sqlite3, sys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
db, keyfile, out = sys.argv[1:4]
key = hashlib.scrypt(open(keyfile).read().strip().encode(), salt=b"FreeSewing", n=16384, r=8, p=1, dklen=32)
def dec(text, json_field):
    try:
        v = json.loads(text)
    except Exception:
        return text
    if not (isinstance(v, dict) and set(v) == {"iv", "ct"}):
        return v if json_field else text
    d = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(v["iv"]))).decryptor()
    try:
        p = d.update(bytes.fromhex(v["ct"])) + d.finalize()
        u = padding.PKCS7(128).unpadder()
        v = json.loads(u.update(p) + u.finalize())
    except Exception:
        return text
    if json_field and isinstance(v, str):
        v = json.loads(v)
    return v
con = sqlite3.connect(db)
con.row_factory = sqlite3.Row
import os
os.makedirs(out, exist_ok=True)
with open(f"{out}/users.ndjson", "w") as f:
    for r in con.execute('SELECT id, consent, status, role, lastSeen, email, username FROM "User"'):
        d = dict(r); d["email"] = dec(d["email"], False)
        f.write(json.dumps(d, separators=(",", ":")) + "\n")
with open(f"{out}/sets.ndjson", "w") as f:
    for r in con.execute('SELECT id, userId, name, measies, createdAt FROM "Set"'):
        d = dict(r); d["measies"] = dec(d["measies"], True)
        f.write(json.dumps(d, separators=(",", ":")) + "\n")
