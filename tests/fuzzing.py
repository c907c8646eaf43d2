"""HTTP fuzzing shared by the tests (bounded) and bench/bench_fuzz.py (≥ 20,000 requests).

:func:`fuzz` is a route-aware fuzzer: it walks the app's own URL map, so a new endpoint is
fuzzed without anyone remembering to add it: every route gets query strings built from the
parameter names the API knows plus random names, with values drawn from hostile strategies
(huge and negative numbers, NaN, unicode, HTML, path tricks, very long strings), and write
routes get random JSON bodies. :func:`schemathesis_schema` and :func:`schemathesis_fuzz`
generate requests from the app's OpenAPI document instead (every documented operation and
parameter), with hooks that put the values a schema never yields (400-digit integers, NaN,
5,000 characters, 2**63) into one parameter or body field. The invariant: never a 5xx, and
every /api and /ogc error is the one JSON error shape (:func:`error_shape_problem`).
"""

from __future__ import annotations

import contextlib
import gzip
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


def decoded(body: bytes, encoding: str | None) -> bytes:
    """A response body as the client reads it: Brotli or gzip undone (a client that sends Accept-Encoding, as
    schemathesis does, gets large answers — an error echoing a long value — compressed)."""
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    return gzip.decompress(body) if encoding == "gzip" else body


def error_shape_problem(path: str, status: int, body: bytes) -> str | None:
    """Why a response breaks the invariant (a 5xx; an /api or /ogc error not in the one JSON shape), or None."""
    if status >= 500:
        return "5xx"
    if status < 400 or not path.startswith(("/api/", "/ogc")):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return "error not in the one JSON shape: not JSON"
    err = doc.get("error") if isinstance(doc, dict) else None
    if not (isinstance(err, dict) and {"status", "code", "message"} <= set(err) and err["status"] == status
            and isinstance(err["message"], str) and err["message"]):
        return "error not in the one JSON shape"
    return None


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
        problem = error_shape_problem(url, r.status_code, r.get_data())
        if problem:
            failures.append((problem, method, url[:300], r.status_code, r.get_data(as_text=True)[:300]))
        r.close()
    return counts, failures


# -- schemathesis: requests generated from the OpenAPI document ---------------------------------------------

ADMIN = "/api/v1/admin/"
NINES = "9" * 400
#: What a schema does not make schemathesis generate (its integers stay within 64 bits, its strings short).
HOSTILE_TEXT = [NINES, "-" + NINES, "9" * 5000, "1e400", "NaN", "nan", "-Infinity", "", " ", "x" * 5000, "\x00", "²",
                "驿" * 300, "<script>alert(1)</script>"]
HOSTILE_BODY_VALUES = [*HOSTILE_TEXT, 2**63, 2**64 - 1, -(2**63) - 1, None, [], {}, [[]], {"type": "Point"}]


def _one_hostile(value, names, hostile):
    """A strategy: ``value`` as generated, or with one of ``names`` set to a ``hostile`` value."""
    from hypothesis import strategies as st

    names = sorted(set(names) | set(value or {}))
    if not names:
        return st.just(value)
    return st.one_of(st.just(value), st.tuples(st.sampled_from(names), st.sampled_from(hostile)).map(
        lambda pair: {**(value or {}), pair[0]: pair[1]}))


def flatmap_query(context, query):
    """Schemathesis hook: one query parameter in about two cases holds a hostile value."""
    names = [p.name for p in context.operation.iter_parameters() if p.location.value == "query"]
    return _one_hostile(query, names, HOSTILE_TEXT)


def flatmap_body(context, body):
    """Schemathesis hook: one field of a JSON object body in about two cases holds a hostile value."""
    from hypothesis import strategies as st

    from geo.model import FIELDS

    if not isinstance(body, dict):
        return st.just(body)
    facility = context.operation.path.startswith(f"{ADMIN}facilities")  # a free-form object: name the fields
    return _one_hostile(body, FIELDS if facility else (), HOSTILE_BODY_VALUES)


def schemathesis_schema(app, *, max_examples: int, seed: int):
    """The app's OpenAPI document as a schemathesis schema over the WSGI app (no network): positive and
    negative data, ``max_examples`` per operation and mode, deterministic, with the hostile-value hooks."""
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    schema.config.generation.update(modes=list(schemathesis.GenerationMode), max_examples=max_examples,
                                    deterministic=True)
    schema.config.seed = seed
    schema.hook(flatmap_query)
    schema.hook(flatmap_body)
    return schema


def schemathesis_fuzz(schema, *, headers: dict | None = None, admin_only: bool = False):
    """Send schemathesis's fuzzing-phase cases for every operation (both modes) to the WSGI app; return
    (count by status class, list of failures) like :func:`fuzz` (failures are recorded, not raised)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    counts: dict[str, int] = {}
    failures = []
    max_examples = schema.config.generation.max_examples
    for result in schema.get_all_operations():
        operation = result.ok()
        if admin_only and not operation.path.startswith(ADMIN):
            continue
        for mode in schemathesis.GenerationMode:
            @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case):
                r = case.call(headers=headers)
                counts[f"{r.status_code // 100}xx"] = counts.get(f"{r.status_code // 100}xx", 0) + 1
                encoding = (r.headers.get("content-encoding") or [None])[0]  # schemathesis: lower-case, lists
                problem = error_shape_problem(case.path, r.status_code, decoded(r.content, encoding))
                if problem:
                    failures.append((problem, case.method, case.formatted_path, str(case.query)[:200],
                                     r.status_code, r.content[:300]))

            with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
                send()
    return counts, failures
