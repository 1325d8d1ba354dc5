"""The import graph of src/eegclf, derived from the code (ast), against docs/architecture.md's layers.

No circle; no import from a lower layer into a higher one; every module named in the module table and in the
layout, and nothing named there that is gone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "eegclf"
DOC = ROOT / "docs" / "architecture.md"

# Imports that run against the layers today, each with the change that removes it (the package Python runs on
# the way counts too). They are left out of both checks; an entry whose import is gone fails the test, so that it
# is deleted here once that change is merged.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}  # (importer, imported): why it may stay for now


def _without_known(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {a: {b for b in targets if (a, b) not in KNOWN_UPWARD} for a, targets in graph.items()}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Module name relative to eegclf (``storage.rundir``; a package by its own name; the root ``eegclf``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts) or "eegclf"] = path
    return out


def _resolve(dotted: str, modules) -> str | None:
    """The module an absolute ``eegclf...`` name lives in (the longest module prefix), relative to eegclf."""
    parts = dotted.split(".")[1:]
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return "eegclf"


def imports_of(name: str, path: Path, modules) -> set[str]:
    """Every eegclf module ``name`` imports, at the top or inside functions, and the packages Python runs on
    the way (not the root, which every import runs, nor a package ``name`` itself lies in)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = ["eegclf"] + ([] if name == "eegclf" else name.split("."))
    package = here if is_package else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # "from eegclf.storage import fileio" imports the module fileio; "from x import name" imports x
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}".split(".", 1)[-1] in modules else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            if target != "eegclf" and not target.startswith("eegclf."):
                continue
            module = _resolve(target, modules)
            found.add(module)
            parts = module.split(".") if module != "eegclf" else []
            for i in range(1, len(parts)):  # the packages on the way
                parent = ".".join(parts[:i])
                if not name.startswith(parent + ".") and name != parent:
                    found.add(parent)
    found.discard(name)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, as the path that closes it."""
    state, stack, found = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def upward(graph: dict[str, set[str]], layer_of: dict[str, str], rank: dict[str, int]) -> list[tuple[str, str]]:
    """Every import (a, b) where b's layer is above a's."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if a in layer_of and b in layer_of and rank[layer_of[b]] > rank[layer_of[a]])


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/architecture.md has no '## {title}' section"
    return match.group(1)


def _rows(section: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]


def documented() -> tuple[dict[str, int], dict[str, str], set[tuple[str, str]]]:
    """From docs/architecture.md: layer -> rank, module -> layer, and the layout's (folder, name) pairs."""
    text = DOC.read_text(encoding="utf-8")
    rank = {row[1]: int(row[0]) for row in _rows(_section(text, "Layers")) if row[0].isdigit()}
    layer_of = {}
    for row in _rows(_section(text, "Modules")):
        if row[0].startswith("`"):
            assert row[0].strip("`") not in layer_of, f"{row[0]} is named twice in the module table"
            layer_of[row[0].strip("`")] = row[1]
    block = re.search(r"```\n(.*?)```", _section(text, "Layout"), re.S)
    assert block, "the Layout section has no code block"
    layout = set()
    for line in block.group(1).splitlines():
        folder, *names = line.split()
        folder = "" if folder == "src/eegclf/" else folder
        layout |= {(folder, n) for n in names}
    return rank, layer_of, layout


def test_no_import_circle():
    found = circles(_without_known(import_graph()))
    assert not found, "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_no_import_runs_upward():
    rank, layer_of, _ = documented()
    unknown = {layer for layer in layer_of.values() if layer not in rank}
    assert not unknown, f"layers missing from the Layers table: {sorted(unknown)}"
    found = upward(import_graph(), layer_of, rank)
    bad = [f"{a} ({layer_of[a]}) imports {b} ({layer_of[b]})" for a, b in found if (a, b) not in KNOWN_UPWARD]
    assert not bad, "imports from a lower layer into a higher one:\n" + "\n".join(bad)
    stale = [f"{a} -> {b} ({why})" for (a, b), why in KNOWN_UPWARD.items() if (a, b) not in found]
    assert not stale, "KNOWN_UPWARD names imports that are gone, delete them: " + "; ".join(stale)


def test_every_module_is_documented():
    _, layer_of, layout = documented()
    modules = module_files()
    assert set(modules) - set(layer_of) == set(), "modules missing from the module table"
    assert set(layer_of) - set(modules) == set(), "the module table names modules that do not exist"
    files = set()
    for name, path in modules.items():
        folder = path.parent.relative_to(PACKAGE).as_posix()
        files.add(("" if folder == "." else folder + "/", path.stem))
    names = {(f, n) for f, n in layout if "." not in n}
    assert files - names == set(), "modules missing from the layout"
    assert names - files == set(), "the layout names modules that do not exist"
    for folder, name in layout - names:  # data files, e.g. pretrained/catalogue.json
        assert (PACKAGE / folder / name).is_file(), f"the layout names {folder}{name}, which does not exist"


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path):
    """The checker on a made-up package: a circle through three modules and an import into a higher layer."""
    pkg = tmp_path / "eegclf"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from eegclf.sub.b import x\n")
    (pkg / "a.py").write_text("def f():\n    from eegclf.sub import b  # inside a function\n")
    (pkg / "sub" / "b.py").write_text("from . import c\nx = 1\n")
    (pkg / "sub" / "c.py").write_text("import eegclf.a\n")
    (pkg / "low.py").write_text("from eegclf.a import f\n")
    graph = import_graph(pkg)
    assert graph["a"] == {"sub", "sub.b"} and graph["sub.b"] == {"sub.c"} and graph["sub.c"] == {"a"}
    assert graph["sub"] == {"sub.b"}  # a package's own modules are not "on the way" to it
    assert ["a", "sub", "sub.b", "sub.c", "a"] in circles(graph)
    ranks = {"low": 1, "high": 2}
    layer_of = {"eegclf": "high", "a": "high", "sub": "high", "sub.b": "high", "sub.c": "high", "low": "low"}
    assert upward(graph, layer_of, ranks) == [("low", "a")]


@pytest.mark.parametrize("old", ["rundir", "checkpoint", "train_state", "fileio", "batchnorm", "augment",
                                 "fast_modules", "sklearn"])
def test_old_loose_modules_are_gone(old):
    """The modules that moved into packages (issue 34) left no copy behind at the top of src/eegclf."""
    assert not (PACKAGE / f"{old}.py").exists()
