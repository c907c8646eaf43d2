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
