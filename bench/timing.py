"""Timing shared by the benchmarks."""

from __future__ import annotations

import time


def best_of(fn, n: int):
    """(the shortest of ``n`` runs of ``fn()`` in seconds, the last result): ours and a baseline alike."""
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return f"{v:.3f} s" if v < 100 else f"{v:.0f} s"


class Table:
    """A benchmark's result table: per task our time, the baseline's (measured in the same run), the ratio, the
    target and whether it is met (None: not judged)."""

    HEADER = ["task", "ours", "baseline", "baseline is", "ratio", "target", "met", "note"]

    def __init__(self):
        self.rows: list[list[str]] = []

    def row(self, task, ours, baseline, baseline_name, target, ok, note=""):
        ratio = "" if baseline is None or ours is None or isinstance(ours, str) or isinstance(baseline, str) \
            else f"{baseline / ours:,.1f}×"
        self.rows.append([task, _fmt(ours), _fmt(baseline), baseline_name, ratio, target,
                          "–" if ok is None else "yes" if ok else "NO", note])

    def print(self):
        widths = [max(len(str(r[i])) for r in [self.HEADER, *self.rows]) for i in range(len(self.HEADER))]
        for r in [self.HEADER, ["-" * w for w in widths], *self.rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
