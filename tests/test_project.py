"""The project's own promises: the README's two set-up commands, and CI running the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert re.search(r'^workermap = "web\.cli:main"$', (ROOT / "pyproject.toml").read_text(), re.M)
