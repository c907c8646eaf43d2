"""Plain-text tables for the terminal, aligned by display width (a Chinese character is two columns)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.nearest import Hit


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes.

    >>> display_width("驿站ab")
    6
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    widths = [max(display_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = (pad(str(c), w, right=i in right) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def nearest_table(hits: Sequence[Hit]) -> str:
    rows = []
    for n, h in enumerate(hits, start=1):
        f = h.facility
        state = "hours unknown" if h.open_now is None else "open" if h.open_now else "closed"
        if h.next_change is not None:
            state += f" ({'closes' if h.open_now else 'opens'} {h.next_change:%H:%M})"
        if f.status != "open":
            state = f.status
        rows.append([str(n), f.name, f.kind, f"{h.distance_m:,.0f}", f"{h.walk_min:.1f}", f"{h.ebike_min:.1f}",
                     state, "" if h.within_radius else "beyond radius"])
    if not rows:
        return "no eligible facility"
    return table(["#", "name", "kind", "distance_m", "walk_min", "ebike_min", "open", ""], rows, right=(0, 3, 4, 5))
