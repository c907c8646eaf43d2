"""A route-aware HTTP fuzzer shared by the test (bounded) and bench/bench_fuzz.py (≥ 5,000 requests).

It walks the app's own URL map, so a new endpoint is fuzzed without anyone
remembering to add it: every route gets query strings built from the parameter
names the API knows plus random names, with values drawn from hostile strategies
(huge and negative numbers, NaN, unicode, HTML, path tricks, very long strings),
and write routes get random JSON bodies. The invariant: never a 5xx, and every
/api error is the one JSON error shape.
"""

from __future__ import annotations

import json
import random
import string
from urllib.parse import quote, urlencode

KNOWN_PARAMS = [
    "lon", "lat", "k", "radius_m", "kind", "amenity", "open_at", "worker", "crs", "include_closed", "district",
    "limit", "offset", "bbox", "f", "datetime", "status", "near", "format", "layer", "mode", "minutes",
    "threshold_m", "demand", "add", "remove", "close", "detour_factor", "walk_kmh", "ebike_kmh", "hour",
]
HOSTILE = [
    "", " ", "0", "-1", "1e309", "-1e309", "NaN", "nan", "inf", "-inf", "1e-320", "99999999999999999999999",
    "120.38", "36.06", "120.38,36.06", "36.06,120.38", "119,35,121,37", "a,b,c,d", "1,2,3", "station",
    "microwave", "station,spaceport", "gcj02", "bd09", "utm", "true", "false", "yes", "2026-11-24T23:40",
    "2026-13-45T99:99", "9999-12-31T23:59-12:00", "0001-01-01T00:00+14:00",
    "now", "any", "walk", "ebike", "geojson", "csv", "gpkg", "kml", "html", "json",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE facilities; --", "../../etc/passwd",
    "%00", "\x00", "驿站", "市南区", "370202", "=CMD('calc')", "☃" * 50, "x" * 5000, "1" * 400, "[]", "{}",
    "null", "0x1F", "1_000", "+5", "−5",
]
PATH_VALUES = ["t-001", "st-370202-0001", "station", "facilities", "districts", "nope", "<b>", "..", "%2e%2e",
               "驿站", "x" * 300, "0", "-1"]
JSON_VALUES = [None, True, False, 0, -1, 1e308, 3.5, "", "x" * 3000, "<script>", [], {}, [1, 2], [[120.38, 36.06]],
               [["a", "b"]], [[1e308, -1e308]], {"type": "Point"}, "24/7", "station", ["microwave"]]


def _value(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(HOSTILE)
    return "".join(rng.choice(string.printable + "驿站市南区") for _ in range(rng.randint(0, 40)))


def _query(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(KNOWN_PARAMS) if rng.random() < 0.85 else "".join(
            rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 12)))
        pairs.append((name, _value(rng)))
    return urlencode(pairs)


def _path(rule: str, rng: random.Random) -> str:
    out = rule
    while "<" in out:
        start, end = out.index("<"), out.index(">")
        out = out[:start] + quote(rng.choice(PATH_VALUES), safe="") + out[end + 1:]
    return out


def _json_body(rng: random.Random):
    if rng.random() < 0.1:
        return rng.choice(JSON_VALUES)
    keys = KNOWN_PARAMS + ["points", "name", "id", "opening_hours", "amenities", "status", "version", "capacity"]
    return {rng.choice(keys): rng.choice(JSON_VALUES) for _ in range(rng.randint(0, 6))}


def routes(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return sorted(out)


def fuzz(client, app, n: int, *, seed: int = 0, headers: dict | None = None):
    """Send ``n`` generated requests; return (count by status class, list of failures)."""
    rng = random.Random(seed)
    table = routes(app)
    counts: dict[str, int] = {}
    failures = []
    for i in range(n):
        method, rule = table[i % len(table)]
        url = _path(rule, rng)
        query = _query(rng)
        if query:
            url += "?" + query
        kwargs = {"headers": headers or {}}
        if method in ("POST", "PATCH"):
            body = _json_body(rng)
            if rng.random() < 0.1:
                kwargs["data"] = rng.choice([b"{not json", b"\xff\xfe", b"", json.dumps(body).encode()[:7]])
                kwargs["content_type"] = "application/json"
            else:
                kwargs["json"] = body
        r = client.open(url, method=method, **kwargs)
        counts[f"{r.status_code // 100}xx"] = counts.get(f"{r.status_code // 100}xx", 0) + 1
        problem = None
        if r.status_code >= 500:
            problem = "5xx"
        elif r.status_code >= 400 and (url.startswith("/api/") or url.startswith("/ogc")):
            body = r.get_json(silent=True)
            if not (isinstance(body, dict) and isinstance(body.get("error"), dict)
                    and {"status", "code", "message"} <= set(body["error"])):
                problem = "error not in the one JSON shape"
        if problem:
            failures.append((problem, method, url[:300], r.status_code, r.get_data(as_text=True)[:300]))
        r.close()
    return counts, failures
