#!/usr/bin/env python3
"""Fails when the build for this platform (`cargo tree`) has two versions of a crate that deps.toml
does not skip with a reason, when a banned crate is present without its written reason,
or when deps.toml lists a skip or exception that no longer applies.

Usage: scripts/check-deps.py   (from anywhere; reads `cargo tree --locked`)
"""
import collections
import pathlib
import subprocess
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
rules = tomllib.loads((root / "deps.toml").read_text())
# What cargo builds for this platform (resolver v2, the features actually enabled):
# every package of the workspace's normal, build and dev dependency trees.
tree = subprocess.run(
    ["cargo", "tree", "--workspace", "--locked", "-e", "normal,build,dev",
     "--prefix", "none", "--format", "{p}"],
    cwd=root, capture_output=True, text=True, check=True,
).stdout
versions = collections.defaultdict(set)
for line in tree.splitlines():
    parts = line.split()
    if len(parts) >= 2 and parts[1].startswith("v"):
        versions[parts[0]].add(parts[1][1:])

errors = []
skip = rules.get("skip", {})
ban = rules.get("ban", {}).get("crates", [])
allowed = rules.get("ban", {}).get("exceptions", {})
for name, reason in list(skip.items()) + list(allowed.items()):
    if not isinstance(reason, str) or len(reason.strip()) < 10:
        errors.append(f"deps.toml: {name} needs a written reason")
for name, vs in sorted(versions.items()):
    if len(vs) > 1 and name not in skip:
        errors.append(
            f"{name} is built in {len(vs)} versions ({', '.join(sorted(vs))}): "
            f"unify them (`cargo tree -i {name}@<version>` shows who pulls each), "
            "or add a skip with its reason to deps.toml"
        )
for name in sorted(skip):
    if len(versions.get(name, ())) < 2:
        errors.append(f"deps.toml: the skip for {name} no longer applies; remove it")
for name in ban:
    if name in versions and name not in allowed:
        errors.append(f"{name} is banned (deps.toml) but in the build: `cargo tree -i {name}` shows who pulls it")
for name in sorted(allowed):
    if name not in ban:
        errors.append(f"deps.toml: {name} has an exception but is not in ban.crates")
    elif name not in versions:
        errors.append(f"deps.toml: {name} is no longer in the build; remove its exception")
for line in errors:
    print(f"error: {line}", file=sys.stderr)
if errors:
    sys.exit(1)
dups = sum(1 for vs in versions.values() if len(vs) > 1)
present = [n for n in allowed if n in versions]
print(
    f"dependencies: {len(versions)} crates, {dups} with two or more versions (each skip written in deps.toml)"
    + (f"; {', '.join(present)} present with its written reason" if present else "")
)
