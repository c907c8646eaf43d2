"""Three HTTP 500s found by fuzzing, each now a clean refusal, and a property test that would find their kind.

1. ``GET /api/v1/export?layer=uncovered&district=Atlantis``: a core ``ParameterError`` was turned into
   a 400 only inside the coverage blueprint; now the app-wide error handler renders every one.
2. A GeoJSON feature with ``"geometry": "x"`` raised AttributeError in ``geo.tabular.geojson_rows``;
   now every malformed feature is a row problem naming the feature, a malformed file a ReadError.
3. ``GET /api/v1/nearest?k=<400 nines>`` raised OverflowError in ``web.params.number`` (now
   ``geo.params.Param``: ``math.isfinite`` on an int too large for a float); now a 400 naming ``k`` and its
   range.

The property test reads the app's own OpenAPI document, so every documented GET route and parameter
(with its enum values) is exercised without anyone listing them here.
"""

from __future__ import annotations

import io
import json
import logging
import string
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from geo.errors import ParameterError
from geo.nearest import MAX_K
from geo.params import Param
from geo.tabular import ReadError, geojson_rows, read_rows
from geo.validate import validate_rows
from web.fastpath import FAST_PATH
from web.params import QueryArgs

NINES = "9" * 400


def error_of(r, status: int = 400) -> dict:
    """The one JSON error shape, with the response's status."""
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    body = r.get_json(silent=True)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), r.get_data(as_text=True)[:500]
    err = body["error"]
    assert {"status", "code", "message"} <= set(err) and err["status"] == status, err
    return err


# -- 1. a core ParameterError is a 400 wherever it surfaces ---------------------------------------------


def test_unknown_district_in_the_uncovered_export_is_a_400_naming_district(client):
    err = error_of(client.get("/api/v1/export?layer=uncovered&district=Atlantis"))
    assert err["code"] == "invalid_parameter"
    assert (err["parameter"], err["value"]) == ("district", "Atlantis")
    assert "district adcode or name" in err["allowed"] and "Atlantis" in err["message"]


def test_the_export_and_the_coverage_blueprint_answer_a_parameter_error_alike(client):
    """Same error from the export view and from /api/v1/gaps (which used to have its own conversion)."""
    exported = error_of(client.get("/api/v1/export?layer=uncovered&district=Atlantis"))
    gaps = error_of(client.get("/api/v1/gaps?district=Atlantis"))
    assert exported == gaps


def test_a_parameter_error_from_any_view_gets_the_one_error_shape(app, client):
    """No blueprint converts ParameterError itself: a view outside every blueprint gets it too."""
    def view():
        raise ParameterError("demand", "<script>", "one of workers, residents")

    app.add_url_rule("/raises-parameter-error", "raises_parameter_error", view)
    err = error_of(client.get("/raises-parameter-error"))
    assert err == {"status": 400, "code": "invalid_parameter", "parameter": "demand", "value": "<script>",
                   "allowed": "one of workers, residents",
                   "message": "demand must be one of workers, residents, got '<script>'"}


def test_parameter_error_is_still_importable_from_geo_coverage():
    from geo import coverage

    assert coverage.ParameterError is ParameterError


# -- 2. malformed GeoJSON features are row problems, malformed files ReadErrors ---------------------------

GOOD_FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.3843, 36.062]},
                "properties": {"id": "g-1", "kind": "station", "name": "好驿站", "opening_hours": "24/7"}}
PROPS = {"kind": "station", "name": "坏驿站", "opening_hours": "24/7"}


def _bad(geometry=..., properties=PROPS):
    feat = {"type": "Feature", "properties": properties}
    if geometry is not ...:
        feat["geometry"] = geometry
    return feat


MALFORMED_FEATURES = {  # case: (feature 2 of the file, field blamed, words in the message)
    "geometry a string": (_bad("x"), "geometry", "got a string ('x')"),
    "geometry a list": (_bad([120.38, 36.06]), "geometry", "got an array"),
    "geometry a number": (_bad(7), "geometry", "got a number"),
    "geometry null": (_bad(None), "lon/lat", "coordinate missing"),
    "geometry missing": (_bad(), "lon/lat", "coordinate missing"),
    "coordinates a string": (_bad({"type": "Point", "coordinates": "120.38,36.06"}), "geometry", "array of numbers"),
    "coordinates missing": (_bad({"type": "Point"}), "geometry", "array of numbers"),
    "coordinates too short": (_bad({"type": "Point", "coordinates": [120.38]}), "geometry", "array of numbers"),
    "coordinates of strings": (_bad({"type": "Point", "coordinates": ["120.38", "36.06"]}), "geometry",
                               "array of numbers"),
    "coordinates of booleans": (_bad({"type": "Point", "coordinates": [True, False]}), "geometry",
                                "array of numbers"),
    "coordinates nested": (_bad({"type": "Point", "coordinates": [[120.38, 36.06]]}), "geometry",
                           "array of numbers"),
    "coordinates of 400 digits": (_bad({"type": "Point", "coordinates": [int(NINES), 36.06]}), "lon/lat",
                                  "not finite"),
    "non-Point geometry": (_bad({"type": "MultiPoint", "coordinates": [[120.38, 36.06]]}), "geometry",
                           "must be a Point, got MultiPoint"),
    "nested GeometryCollection": (_bad({"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [120.38, 36.06]}]}), "geometry", "must be a Point, got GeometryCollection"),
    "geometry type not a string": (_bad({"type": ["Point"], "coordinates": [120.38, 36.06]}), "geometry",
                                   "must be a Point"),
    "feature a string": ("x", "geometry", "feature is not a JSON object, got a string"),
    "feature a list": ([GOOD_FEATURE], "geometry", "feature is not a JSON object, got an array"),
    "feature null": (None, "geometry", "feature is not a JSON object, got null"),
    "properties a list": (_bad(GOOD_FEATURE["geometry"], ["name", "坏驿站"]), "properties",
                          "properties must be a JSON object or null, got an array"),
    "properties a string": (_bad(GOOD_FEATURE["geometry"], "坏驿站"), "properties", "got a string"),
}


def test_uploading_a_feature_with_a_string_geometry_is_refused_naming_the_feature(app, client, data_dir):
    """The reported file, through POST /api/v1/admin/import: a 422 listing the problem, nothing written."""
    from geo.store.tokens import TokenStore
    from tests.conftest import open_test_store, store_state

    store = open_test_store(data_dir)
    token = TokenStore(store).add("alice")
    before = store_state(store)
    doc = {"type": "FeatureCollection", "features": [GOOD_FEATURE, _bad("x")]}
    r = client.post("/api/v1/admin/import", headers={"Authorization": f"Bearer {token}"},
                    data={"file": (io.BytesIO(json.dumps(doc).encode()), "in.geojson")},
                    content_type="multipart/form-data")
    err = error_of(r, 422)
    assert err["code"] == "validation_failed" and "nothing was written" in err["message"]
    assert {"row": 2, "field": "geometry", "severity": "error",
            "message": "geometry must be a GeoJSON Point object, got a string ('x')"} in err["details"]
    assert not [d for d in err["details"] if d["row"] == 1]
    assert store_state(store) == before


@pytest.mark.parametrize("case", sorted(MALFORMED_FEATURES))
def test_a_malformed_feature_is_a_problem_naming_it(tmp_path, districts, case):
    """What an import does (read the file, validate the rows): refused, feature 2 blamed, feature 1 not."""
    feature, fld, words = MALFORMED_FEATURES[case]
    path = tmp_path / "in.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [GOOD_FEATURE, feature]},
                               ensure_ascii=False), encoding="utf-8")
    result = validate_rows(read_rows(path), districts)
    assert not result.ok
    hits = [p for p in result.errors if p.row == 2 and p.field == fld]
    assert hits and words in hits[0].message, [str(p) for p in result.errors]
    assert not [p for p in result.errors if p.row == 1], "the good feature must not be blamed"


@pytest.mark.parametrize("data,words", [
    (b'{"type": "FeatureCollection", "features": [' + b"1" * 5000 + b"]}", "too many digits"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"type": "FeatureCollection", "features": {}}', "no 'features' list"),
    (b'["FeatureCollection"]', "must be a FeatureCollection"),
    ("名称".encode("gbk"), "cannot be parsed"),
])
def test_a_malformed_geojson_file_is_a_read_error(data, words):
    with pytest.raises(ReadError, match=words):
        geojson_rows(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**400, 10**400) | st.floats() | st.text(max_size=20)
    | st.sampled_from(["Point", "Feature", "24/7", "station", "120.38", "36.06"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "coordinates", "geometry", "properties", "id", "name", "kind", "lon", "lat", "x"]), inner, max_size=4),
    max_leaves=8)
_GEOMETRY = _JSON | st.fixed_dictionaries({"type": st.just("Point") | _JSON, "coordinates": _JSON})
_FEATURE = _JSON | st.fixed_dictionaries(
    {"type": st.just("Feature")}, optional={"geometry": _GEOMETRY, "properties": _JSON, "id": _JSON})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(features=st.lists(_FEATURE, max_size=4))
def test_geojson_rows_and_validation_never_raise_anything_but_read_error(districts, features):
    doc = {"type": "FeatureCollection", "features": features}
    for data in (doc, json.dumps(doc).encode()):
        try:
            rows = geojson_rows(data)
        except ReadError:
            continue
        assert len(rows) == len(features)
        validate_rows(rows, districts)  # reports problems, never raises


# -- 3. an integer too large for a float is a 400 naming the parameter and its range --------------------


@pytest.mark.parametrize("query", [f"k={NINES}&lat=<script>", f"k={NINES}&lon=120.38&lat=36.06",
                                   f"k=-{NINES}&lon=120.38&lat=36.06", f"k={'9' * 5000}&lon=120.38&lat=36.06"],
                         ids=["as-reported", "valid-point", "negative", "5000-digits"])
def test_a_huge_k_is_a_400_naming_k_and_its_range(sample_app, query):
    """Both through the WSGI fast path and through the Flask view behind it."""
    fast = sample_app.test_client().get(f"{FAST_PATH}?{query}")
    flask_only = Client(sample_app.wsgi_app.app).get(f"{FAST_PATH}?{query}")
    err = error_of(fast)
    assert fast.data == flask_only.data
    assert (err["code"], err["parameter"]) == ("invalid_parameter", "k")
    assert err["allowed"] == f"an integer between 1 and {MAX_K}"
    assert err["value"].lstrip("-").startswith("9" * 100)


@pytest.mark.parametrize("raw", [NINES, "-" + NINES, "1" * 5000, "1e400", "-1e400", "nan", "NaN", "inf",
                                 "-Infinity", "0x10", "<script>", "½"],
                         ids=lambda raw: raw if len(raw) < 12 else f"{len(raw)}-chars")
@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("lo,hi", [(1, 50), (None, None), (0, None)])
def test_number_refuses_what_is_not_a_finite_number_in_range(raw, integer, lo, hi):
    with pytest.raises(ParameterError) as exc:
        Param("n", "integer" if integer else "number", "a number", lo=lo, hi=hi).parse(QueryArgs.of({"n": raw}))
    assert (exc.value.status, exc.value.parameter) == (400, "n")
    assert exc.value.allowed.startswith("an integer" if integer else "a number")


def test_ogc_offset_of_400_digits_is_a_400(client):
    err = error_of(client.get(f"/ogc/collections/facilities/items?offset={NINES}"))
    assert (err["parameter"], err["allowed"]) == ("offset", "an integer ≥ 0")


def test_the_fast_path_logs_a_bug_before_falling_back_but_not_a_bad_request(sample_app, monkeypatch, caplog):
    import web.fastpath

    c = sample_app.test_client()
    with caplog.at_level(logging.ERROR, logger="web.fastpath"):
        assert c.get(f"{FAST_PATH}?k={NINES}&lon=120.38&lat=36.06").status_code == 400
    assert not [r for r in caplog.records if r.name == "web.fastpath"]

    def broken(args, st):
        raise RuntimeError("boom")

    monkeypatch.setattr(web.fastpath, "nearest_payload", broken)
    with caplog.at_level(logging.ERROR, logger="web.fastpath"):
        r = c.get(f"{FAST_PATH}?lon=120.38&lat=36.06&open_at=any")
    assert r.status_code == 200  # answered by the Flask view
    logged = [rec for rec in caplog.records if rec.name == "web.fastpath"]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info and isinstance(logged[0].exc_info[1], RuntimeError)


# -- property: no documented GET route answers 5xx, whatever its query parameters hold --------------------
#
# Every documented GET route is fuzzed one *target* parameter at a time: Hypothesis draws the target's
# value — junk, or for a list parameter its enum values mixed with junk — while the other parameters are
# absent, except the required ones (given their documented example) and at most one *context*: a value
# of a small single-valued enum (layer, format, mode, crs, f …), each tried in turn. A junk value in
# another parameter would be refused first and hide the target, and a bug may need a context to be
# reached: district=Atlantis broke /api/v1/export only with layer=uncovered.

#: Four kinds of junk, drawn about equally often: odd short values, integers of hundreds of digits (either
#: sign), unicode text, long text (a short value reaches parsers that refuse long ones first).
JUNK = st.one_of(
    st.sampled_from(["NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-320", "0", "-0", "-1",
                     "1.5", "0x1F", "1_000", "+5", "−5", " ", "true", "null", "[]", "{}", "%00", "\x00",
                     "<script>alert(1)</script>", "'; DROP TABLE facilities; --", "../../etc/passwd", "驿站",
                     "市南区", "370202", "Atlantis", "2026-13-45T99:99", "now", "any", "120.38,36.06"]),
    st.integers(10**199, 10**500).map(str) | st.integers(-(10**500), -(10**199)).map(str),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=300, max_size=600)
    | st.text(string.ascii_letters + "<>&\"'", min_size=5000, max_size=5000) | st.just("9" * 5000),
)
#: A single-valued enum parameter with at most this many values is a context (each value tried).
MAX_CONTEXT_VALUES = 4
#: Hypothesis examples per (route, context, target parameter).
EXAMPLES = 4
#: Routes whose valid requests are slow (report.zip builds a whole report, ~0.5-2 s): no contexts.
SLOW_ROUTES = {"/api/v1/report.zip"}


def _hostile(param: dict) -> st.SearchStrategy[str]:
    """Junk; for a list parameter also comma lists of its enum values mixed with junk."""
    schema = param.get("schema", {})
    enum = [str(v) for v in schema.get("items", {}).get("enum", [])]
    if schema.get("type") == "array" and enum:
        return st.one_of(JUNK, st.lists(st.sampled_from(enum) | JUNK, min_size=2, max_size=4).map(",".join))
    return JUNK


def _get_operations(spec: dict) -> list[tuple[str, dict[str, dict]]]:
    """(path, {parameter name: parameter}) for every GET operation, $refs resolved."""
    components = spec.get("components", {}).get("parameters", {})

    def resolve(p):
        return components[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p

    ops = []
    for path, item in spec["paths"].items():
        if "get" not in item:
            continue
        ps = [resolve(p) for p in (*item.get("parameters", []), *item["get"].get("parameters", []))]
        ops.append((path, {p["name"]: p for p in ps if p["in"] in ("query", "path")}))
    return ops


def _contexts(query: dict[str, dict]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{}]
    for name, p in query.items():
        enum = p.get("schema", {}).get("enum") or []
        if len(enum) <= MAX_CONTEXT_VALUES:
            out += [{name: str(v)} for v in enum]
    return out


@pytest.fixture(scope="module")
def get_operations(sample_app):
    r = sample_app.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    ops = _get_operations(r.get_json(force=True))
    assert len(ops) >= 20 and any(p == FAST_PATH for p, _ in ops)
    return ops


def _check_route(client, path: str, args: st.SearchStrategy, path_args: st.SearchStrategy, examples: int) -> None:
    """GET ``path`` with Hypothesis-drawn query and path parameters: never a 5xx, errors in the one shape."""

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(query=args, in_path=path_args)
    def check(query, in_path):
        url = path
        for name, v in in_path.items():
            url = url.replace("{" + name + "}", quote(v, safe="") or "x")
        if query:
            url += "?" + urlencode(query)
        r = client.get(url)
        try:
            assert r.status_code < 500, f"GET {url[:400]} -> {r.status_code}: {r.get_data(as_text=True)[:300]}"
            if r.status_code >= 400 and url.startswith(("/api/", "/ogc")):
                error_of(r, r.status_code)
        finally:
            r.close()

    check()


def _fuzz_route(client, path: str, parameters: dict[str, dict], *, examples: int = EXAMPLES,
                contexts: bool = True) -> None:
    """Each query parameter in turn as the target, in each context."""
    query = {n: p for n, p in parameters.items() if p["in"] == "query"}
    required = {n: str(p.get("example", p.get("schema", {}).get("minimum", "x")))
                for n, p in query.items() if p.get("required")}
    in_path = st.fixed_dictionaries({n: st.sampled_from(["t-001", "st-370202-0001", "370202"]) | JUNK
                                     for n, p in parameters.items() if p["in"] == "path"})
    for context in _contexts(query) if contexts else [{}]:
        for target in [n for n in query if n not in context] or [None]:
            fixed = {n: st.just(v) for n, v in {**required, **context}.items() if n != target}
            hostile = {target: _hostile(query[target])} if target else {}
            _check_route(client, path, st.fixed_dictionaries({**fixed, **hostile}), in_path, examples)


def test_no_documented_get_route_answers_5xx_to_hostile_query_parameters(sample_app, get_operations):
    client = sample_app.test_client()
    for path, parameters in get_operations:
        _fuzz_route(client, path, parameters, contexts=path not in SLOW_ROUTES)
