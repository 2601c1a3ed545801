"""Static guard for the seed's crash: ``'ClientConnection' object has no attribute 'closed'``.

websockets >= 14 removed ``.closed`` (and ``.open``) from connections; code must read
``state`` or catch ``ConnectionClosed``. Behaviour tests cover the relay's paths; this
check covers every path, including ones no test happens to reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("stack", "fixtures", "realtime_qa") for p in (ROOT / d).rglob("*.py"))
REMOVED_ATTRIBUTES = {"closed"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_removed_websockets_attributes(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in REMOVED_ATTRIBUTES and isinstance(node.ctx, ast.Load)
    ]
    assert not offenders, "websockets >= 14 connections have no .closed; use .state: " + ", ".join(offenders)
