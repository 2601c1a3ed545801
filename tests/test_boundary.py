"""The harness talks to a stack through URLs only: nothing outside stack/ and tests/ imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ["e2e", "load", "fixtures", "reports", "realtime_qa", "conftest.py"]


def _harness_files() -> list[Path]:
    files: list[Path] = []
    for entry in HARNESS:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _is_stack(module: str | None) -> bool:
    return module is not None and (module == "stack" or module.startswith("stack."))


def _imports_stack(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(_is_stack(name) for name in names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", _harness_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_harness_module_does_not_import_the_reference_stack(path: Path) -> None:
    lines = _imports_stack(ast.parse(path.read_text(), str(path)))
    assert not lines, f"{path.relative_to(ROOT)} imports stack at line(s) {lines}: use its URLs instead"


def test_loading_the_harness_loads_no_stack_module() -> None:
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in _harness_files()
        if p.parent != ROOT and p.stem != "__init__" and p.relative_to(ROOT).parts[0] != "e2e"
    ]
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'stack' or m.startswith('stack.'))\n"
        "sys.exit(f'stack modules loaded: {leaked}' if leaked else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr or result.stdout
