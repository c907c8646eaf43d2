"""Bounded fuzzing of every route (the benchmark sends ≥ 5,000 requests): never a 5xx, one error shape."""

from __future__ import annotations

import pytest

from tests.fuzzing import fuzz, routes
from web.auth import TokenStore


@pytest.mark.parametrize("authorised", [False, True])
def test_no_route_ever_returns_5xx(app, client, data_dir, authorised):
    headers = {}
    if authorised:
        headers = {"Authorization": "Bearer " + TokenStore(data_dir / "admin_tokens.json").add("fuzz")}
    before = (data_dir / "facilities.geojson").read_bytes()
    counts, failures = fuzz(client, app, 600, seed=1 if authorised else 2, headers=headers)
    assert not failures, failures[:5]
    assert counts.get("2xx", 0) > 0 and counts.get("4xx", 0) > 100
    assert len(routes(app)) >= 15
    if not authorised:
        assert (data_dir / "facilities.geojson").read_bytes() == before
