"""Planner commands for the workermap CLI (gaps, plan, report). Registered by web/cli.py."""

from __future__ import annotations

#: click commands to register on the ``workermap`` group
COMMANDS: list = []
