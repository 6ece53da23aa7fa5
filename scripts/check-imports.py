#!/usr/bin/env python3
"""Checks that every Swift file imports only targets its own target declares in Package.swift (`make lint`).

SwiftPM builds a target after its dependencies, so an import pointing back up usually fails to compile, but an
incremental build can still find an old module file of a target built earlier: this check makes the one-way
rule independent of build order. With --graph, prints which target imports which (for notes and README)."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SYSTEM = {"Glibc", "Musl", "Foundation", "FoundationEssentials", "Synchronization", "Dispatch", "Testing"}


def declared_targets():
    text = (ROOT / "Package.swift").read_text()
    targets = {}
    for m in re.finditer(r'layer\("(\w+)",\s*\[([^\]]*)\]\)', text):
        targets[m.group(1)] = (f"Sources/{m.group(1)}", re.findall(r'"([\w-]+)"', m.group(2)))
    for m in re.finditer(r'\.(?:executableTarget|testTarget|target)\(\s*name:\s*"([\w-]+)",\s*'
                         r'dependencies:\s*\[([^\]]*)\](?:,\s*path:\s*"([^"]+)")?', text):
        name = m.group(1)
        kind_path = m.group(3) or (f"Tests/{name}" if name.endswith("Tests") else f"Sources/{name}")
        targets[name] = (kind_path, re.findall(r'"([\w-]+)"', m.group(2)))
    return targets


def imports(directory):
    found = set()
    for f in (ROOT / directory).rglob("*.swift"):
        for m in re.finditer(r"^\s*(?:@testable\s+|internal\s+|public\s+|package\s+)?import\s+(\w+)",
                             f.read_text(), re.M):
            found.add((m.group(1), f.relative_to(ROOT)))
    return found


def main():
    targets = declared_targets()
    problems = []
    graph = {}
    for name, (directory, deps) in sorted(targets.items()):
        used = imports(directory)
        graph[name] = sorted({m for m, _ in used} - SYSTEM)
        for module, file in sorted(used):
            if module in SYSTEM or module == name:
                continue
            if module not in deps:
                problems.append(f"{file}: imports {module}, which target {name} does not declare in Package.swift")
    if "--graph" in sys.argv:
        for name, mods in graph.items():
            if not name.endswith("Tests") and name != "TestSupport":
                print(f"{name}: {', '.join(mods) or '-'}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
