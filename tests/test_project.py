"""The project's own promises: the README's two set-up commands, and CI running the README's test command."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

from geo.settings import SHIPPED_DATA, SHIPPED_PACKAGE

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("\n## ")]
    return [line.strip() for line in head.splitlines() if line.startswith("    ")]


def test_readme_opens_with_exactly_two_commands():
    serve, tests = readme_commands()
    assert "pip install" in serve and serve.endswith("workermap serve --prod")
    assert "pip install" in tests and tests.endswith("python3 -m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_console_script_is_declared():
    """``workermap`` names an importable callable (whichever module the CLI lives in)."""
    target = _pyproject()["project"]["scripts"]["workermap"]
    module, _, attr = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attr)), target


def test_package_data_covers_every_shipped_file():
    """Each file in the shipped data folder is matched by a package-data pattern of its package, so the wheel
    carries it (tests/test_packaging.py checks the built wheel itself)."""
    patterns = _pyproject()["tool"]["setuptools"]["package-data"][SHIPPED_PACKAGE]
    files = {p for p in SHIPPED_DATA.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    matched = {p for pattern in patterns for p in SHIPPED_DATA.glob(pattern) if p.is_file()}
    assert files and files == matched, sorted(str(p.relative_to(SHIPPED_DATA)) for p in files ^ matched)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
