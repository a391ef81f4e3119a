#!/usr/bin/env python3
"""Fails when a Rust source file holds more than MAX lines of code before its tests.

Code lines: lines that are neither blank nor comments (`//`, `/* ... */`), counted up to
the file's first `#[cfg(test)]`. Files under a `tests/` folder are tests from their first
line and are not counted. Usage: scripts/code-lines.py [--max N] [ROOT]
"""
import argparse
import pathlib
import sys


def code_lines(path):
    n, in_block = 0, False
    for line in path.open(encoding="utf-8"):
        s = line.strip()
        if s.startswith("#[cfg(test)]"):
            break
        if in_block:
            in_block = "*/" not in s
            continue
        if not s or s.startswith("//"):
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            continue
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=500, help="most code lines a file may hold (500)")
    ap.add_argument("root", nargs="?", default=".", help="the repository (.)")
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    over = []
    for p in sorted(root.glob("**/*.rs")):
        rel = p.relative_to(root)
        if rel.parts[0] in ("target", ".git") or "tests" in rel.parts[:-1]:
            continue
        n = code_lines(p)
        if n > a.max:
            over.append((n, rel))
    for n, rel in over:
        print(f"code-lines: {rel}: {n} lines of code before its tests (at most {a.max})")
    if over:
        print('code-lines: split these files (one concern per file; README.md "Layout")')
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
