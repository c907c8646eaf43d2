"""tests/tools.py: a missing declared tool or package skips a test locally and fails it under CI (CI=true)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.tools import need_module, need_tool

TESTS = Path(__file__).parent


def test_present_tools_and_modules_are_returned():
    assert need_tool(Path(sys.executable).name) and need_module("json").dumps([]) == "[]"


@pytest.mark.parametrize("need,name", [(need_tool, "no-such-tool-x9"), (need_module, "no_such_module_x9")])
def test_missing_ones_skip_locally_but_fail_under_ci(monkeypatch, need, name):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=name):
        need(name)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"under CI: .*{name}"):
        need(name)


def test_no_test_skips_on_a_missing_tool_by_itself():
    """Every such skip goes through tests/tools.py, so CI=true turns it into a failure."""
    own = re.compile(r"importorskip\(|skipif\([^)]*which\(|skip\([^)]*not installed")
    offenders = [f"{p.relative_to(TESTS)}:{n}" for p in TESTS.rglob("*.py") if p.name != Path(__file__).name
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if own.search(line)]
    assert offenders == []
