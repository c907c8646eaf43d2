"""data/README.md documents every data file (shipped ones in geo/shipped/, data/'s own) with its current sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from geo.settings import SHIPPED_DATA

DATA = Path(__file__).resolve().parent.parent / "data"  # the provenance record, build scripts, city outline


def test_every_shipped_file_is_documented_with_its_checksum():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    files = [p for root in (SHIPPED_DATA, DATA) for p in root.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc") and p.name != "README.md"
             and "__pycache__" not in p.parts]
    assert len(files) >= 8
    for p in files:
        assert p.name in readme, f"{p.name} is not described in data/README.md"
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest in readme, f"data/README.md has a stale sha256 for {p.name} (now {digest})"
    for word in ("Source", "Licence", "CRS", "Rows", "How made", "geo/shipped/"):
        assert word in readme
