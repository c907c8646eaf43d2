"""Bounded fuzzing of every route (the benchmark sends ≥ 20,000 requests): never a 5xx, one error shape."""

from __future__ import annotations

import pytest

from geo.store.tokens import TokenStore
from tests.conftest import open_test_store, store_state
from tests.fuzzing import fuzz, routes


@pytest.mark.parametrize("authorised", [False, True])
def test_no_route_ever_returns_5xx(app, client, data_dir, authorised):
    headers = {}
    store = open_test_store(data_dir)
    if authorised:
        headers = {"Authorization": "Bearer " + TokenStore(store).add("fuzz")}
    before = store_state(store)
    counts, failures = fuzz(client, app, 600, seed=1 if authorised else 2, headers=headers)
    assert not failures, failures[:5]
    assert counts.get("2xx", 0) > 0 and counts.get("4xx", 0) > 100
    assert len(routes(app)) >= 15
    if not authorised:
        assert store_state(store) == before
