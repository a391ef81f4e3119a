#!/usr/bin/env python3
"""Fails when two of the crate's top-level modules import each other.

A module is a file or folder directly under src/ (cmd/, main.rs and lib.rs, the binary's
and the crate's roots, are left out); it imports another when its code before the first
`#[cfg(test)]` names `crate::<other>`. Usage: scripts/module-cycles.py [SRC]
"""
import pathlib
import re
import sys


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    imports = {}
    for p in src.glob("**/*.rs"):
        top = p.relative_to(src).parts[0].removesuffix(".rs")
        if top in ("main", "lib", "cmd"):
            continue
        text = p.read_text(encoding="utf-8").split("#[cfg(test)]")[0]
        for m in set(re.findall(r"crate::([a-z_]+)", text)):
            if m != top:
                imports.setdefault(top, {}).setdefault(m, str(p))
    cycles = sorted(
        (a, b) for a, bs in imports.items() for b in bs if a < b and a in imports.get(b, {})
    )
    for a, b in cycles:
        print(f"module-cycles: {a} and {b} import each other ({imports[a][b]}, {imports[b][a]})")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
