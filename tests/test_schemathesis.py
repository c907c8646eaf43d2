"""Schemathesis over every operation of the app's OpenAPI document, in-process (the WSGI app, no network).

Checks on every response: not a server error (schemathesis's own ``not_a_server_error``), and every error of
``/api`` and ``/ogc`` in the one JSON shape ``{"error": {"status", "code", "message", ...}}``. Anonymous
requests — schemathesis makes up bearer tokens too — never succeed on an admin operation and change nothing
in the registry; the admin operations are then fuzzed again with a valid token.

Schemathesis runs its coverage phase (per parameter: the boundaries and one past them, empty and
wrong-typed values, missing required ones, methods the document does not list) and its fuzzing phase
(schema-valid and schema-invalid data), deterministically. Its integers stay within 64 bits and its
strings short, so hooks (tests/fuzzing.py) put a hostile value — 400 or 5,000 digits, NaN, 2**63,
5,000 characters — into one query parameter or body field of about half the fuzzing-phase cases. What
it cannot send at all — NaN, Infinity and integers beyond 64 bits inside a JSON body, a GeoJSON upload
whose ``"geometry"`` is ``"x"``, hostile CSV cells — the explicit cases below send.

Not repeated here: hostile GET query parameters one at a time (test_crash_regressions.py) and
schemathesis's response-schema checks against a live server (test_openapi.py).
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import shutil

import brotli
import pytest

from geo.model import FIELDS
from geo.store.tokens import TokenStore
from tests.conftest import store_state, write_registry
from tests.fuzzing import ADMIN, NINES, error_shape_problem, schemathesis_schema
from tests.test_crash_regressions import GOOD_FEATURE, MALFORMED_FEATURES
from tests.tools import need_module

schemathesis = need_module("schemathesis", module_level=True)
from schemathesis.checks import not_a_server_error  # noqa: E402

#: Fuzzing-phase examples per operation and generation mode (the coverage phase adds its own, ~300 for an
#: operation with many parameters). With the coarse demand grid below the module runs in about 30 s.
MAX_EXAMPLES = 6
SEED = 20261124
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Cell size of the demand grid the fuzzed app uses: coverage, plans and reports over 1 km cells take a
#: tenth of the time of the shipped 250 m grid; the parsing and error paths are the same.
FUZZ_CELL_M = 1000

# -- the app under test ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coarse_demand(tmp_path_factory):
    """A 1 km demand grid file (as ``workermap import-demand`` would leave it in the data folder)."""
    from geo.demand import build_demand_grid, save_demand
    from geo.geography import load_districts

    path = tmp_path_factory.mktemp("demand") / "demand_grid.csv.gz"
    save_demand(build_demand_grid(load_districts(), cell_m=FUZZ_CELL_M), path)
    return path


def _fuzz_app(tmp_path_factory, coarse_demand):
    """(app, admin token) on the SMALL registry: a token exists, so a made-up one is checked against it."""
    from geo.settings import Settings
    from web import create_app

    data_dir = tmp_path_factory.mktemp("fuzz-instance")
    write_registry(data_dir / "facilities.geojson")
    shutil.copy(coarse_demand, Settings.from_env(data_dir=data_dir).imported_demand_path)
    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir, "WORKERMAP_LAND_CELL_M": FUZZ_CELL_M // 2})
    return app, TokenStore(app.extensions["workermap"].store).add("fuzz")


@pytest.fixture(scope="module")
def anonymous_app(tmp_path_factory, coarse_demand):
    app, _ = _fuzz_app(tmp_path_factory, coarse_demand)
    store = app.extensions["workermap"].store
    return app, store, store_state(store)


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory, coarse_demand):
    return _fuzz_app(tmp_path_factory, coarse_demand)


def _schema(app):
    return schemathesis_schema(app, max_examples=MAX_EXAMPLES, seed=SEED)


@pytest.fixture(scope="module")
def anonymous_schema(anonymous_app):
    app = anonymous_app[0]
    schema = _schema(app)
    spec = app.test_client().get("/api/openapi.json").get_json(force=True)
    documented = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item}
    # every operation of the document but the one serving it (schemathesis leaves that out)
    assert {result.ok().label for result in schema.get_all_operations()} == documented - {"GET /api/openapi.json"}
    return schema


@pytest.fixture(scope="module")
def admin_schema(admin_app):
    return _schema(admin_app[0])


# -- the checks --------------------------------------------------------------------------------------------


def decoded(response) -> bytes:
    """The body as sent before compression (a generated request may accept Brotli or gzip)."""
    encoding = {k.lower(): v for k, v in response.headers.items()}.get("content-encoding", "")
    encoding = encoding[0] if isinstance(encoding, list) else encoding  # schemathesis: lists of values
    body = response.content
    return brotli.decompress(body) if encoding == "br" else gzip.decompress(body) if encoding == "gzip" else body


def one_error_shape(ctx, response, case) -> None:
    """A schemathesis check: an error of /api or /ogc is ``{"error": {"status", "code", "message", ...}}``."""
    body = decoded(response)
    problem = error_shape_problem(case.path, response.status_code, body)
    assert problem in (None, "5xx"), f"{problem}: {response.status_code} {body[:300]!r}"


CHECKS = [not_a_server_error, one_error_shape]


def check(response, label: str) -> None:
    """The same checks for a request sent without schemathesis (the explicit cases; all under /api/)."""
    problem = error_shape_problem("/api/", response.status_code, response.get_data())
    assert problem is None, f"{label} -> {response.status_code} ({problem}): {response.get_data()[:300]!r}"


# -- schemathesis: every operation, anonymous; then the admin operations with a token ----------------------

anonymous = schemathesis.pytest.from_fixture("anonymous_schema")
admin = schemathesis.pytest.from_fixture("admin_schema").include(path_regex=f"^{ADMIN}")


@anonymous.parametrize()
def test_no_operation_answers_5xx_or_another_error_shape(case, anonymous_app):
    app, store, before = anonymous_app
    response = case.call_and_validate(checks=CHECKS)
    if case.path.startswith(ADMIN):
        assert not 200 <= response.status_code < 300, f"anonymous {case.method} {case.formatted_path} succeeded"
    if case.method.upper() not in SAFE_METHODS:
        assert store_state(store) == before, f"anonymous {case.method} {case.formatted_path} changed the registry"


@admin.parametrize()
def test_admin_operations_with_a_valid_token_never_answer_5xx(case, admin_app):
    app, token = admin_app
    assert case.path.startswith(ADMIN)
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {token}"})


# -- explicit cases: what the schema does not make schemathesis send --------------------------------------

#: JSON values as raw text, so that NaN, Infinity and integers beyond 64 bits can be sent at all.
HOSTILE_JSON = [
    "NaN", "Infinity", "-Infinity", NINES, "-" + NINES, "1e400", str(2**63), str(2**64 - 1), str(2**64), "0", "-1",
    "0.5",
    "true", "null", '""', '" "', json.dumps("x" * 5000), json.dumps("驿" * 300), '"NaN"', '"9' + NINES + '"',
    '"<script>alert(1)</script>"', '"\\u0000"', "[]", "{}", "[[]]", "[null]", '[["a", "b"]]', "[" + NINES + "]",
    '{"type": "Point"}', '{"type": "Point", "coordinates": "x"}', "[" * 64 + "]" * 64,
]
#: A valid body per JSON operation, and the facility whose path it uses.
BASE_BODIES = {
    ("POST", "/api/v1/nearest"): {"points": [[120.3843, 36.062]], "k": 2},
    ("POST", "/api/v1/plan"): {"add": 1, "district": "市南区", "minutes": 10},
    ("POST", "/api/v1/whatif"): {"add": [[120.40, 36.08]], "district": "市南区"},
    ("POST", "/api/v1/admin/facilities"): {"kind": "station", "name": "模糊测试驿站", "lon": 120.39, "lat": 36.07,
                                           "opening_hours": "Mo-Su 07:00-21:00", "amenities": ["rest"]},
    ("PATCH", "/api/v1/admin/facilities/t-001"): {"status": "maintenance"},
    ("POST", "/api/v1/admin/restore"): {"version": "1"},
}


def _body_fields(spec: dict, method: str, path: str) -> list[str]:
    """The fields of an operation's JSON body: its schema's properties, or every facility field (free-form)."""
    documented = path if path in spec["paths"] else path.rsplit("/", 1)[0] + "/{facility_id}"
    schema = spec["paths"][documented][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties") or [*FIELDS, "crs"])


def _with(body: dict, field: str, raw: str) -> bytes:
    """``body`` with ``field`` set to the raw JSON text ``raw``."""
    rest = json.dumps({k: v for k, v in body.items() if k != field}, ensure_ascii=False)[1:-1]
    return ("{" + (rest + ", " if rest else "") + json.dumps(field) + ": " + raw + "}").encode()


def test_hostile_values_in_every_json_body_field(anonymous_app, admin_app):
    """Each field of each JSON body in turn holds each hostile value (NaN, 400 digits, 5,000 characters …)."""
    public, _, before = anonymous_app
    app, token = admin_app
    spec = app.test_client().get("/api/openapi.json").get_json(force=True)
    auth = {"Authorization": f"Bearer {token}"}
    ids = itertools.count(1)

    def send(client, method, path, data, headers):
        if method == "POST" and path == "/api/v1/admin/facilities":  # a fresh id: reach the field checks
            data = data.replace(b'"kind"', f'"id": "fz-{next(ids)}", "kind"'.encode(), 1)
        r = client.open(path, method=method, data=data, content_type="application/json", headers=headers)
        check(r, f"{method} {path} {data[:120]!r}")
        return r

    for (method, path), base in BASE_BODIES.items():
        admin_op = path.startswith(ADMIN)
        client = (app if admin_op else public).test_client()
        headers = auth if admin_op else {}
        fields = _body_fields(spec, method, path)
        assert fields, (method, path)
        # the base body is accepted: a refusal below is the hostile value's doing
        r = send(client, method, path, json.dumps(base, ensure_ascii=False).encode(), headers)
        assert r.status_code < 300, (method, path, r.get_json())
        bodies = [raw.encode() for raw in HOSTILE_JSON]  # the whole body
        bodies += [b"", b"{", b"\xff\xfe", b"{}" * 3, b'{"a": 1, "a": 2}', b"[" * 100_000]
        for field in fields:
            bodies += [_with(base, field, raw) for raw in HOSTILE_JSON]
        for data in bodies:
            send(client, method, path, data, headers)
    assert store_state(public.extensions["workermap"].store) == before


HOSTILE_IDS = ["", " ", "0", "-1", NINES, "-" + NINES, "NaN", "inf", "1e400", "x" * 5000, "驿站", "<b>", "\x00",
               "../../etc/passwd", "%2e%2e", "t-001/../t-002", "null", "[]"]


def test_hostile_ids_and_limits_on_the_admin_operations(admin_app):
    app, token = admin_app
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    for value in HOSTILE_IDS:
        for path in ("/api/v1/admin/versions", "/api/v1/admin/audit"):
            check(client.get(path, query_string={"limit": value}, headers=auth), f"GET {path}?limit={value[:40]}")
        fid = value.replace("/", "%2F") or "%20"
        for method, body in (("PATCH", {"status": "maintenance"}), ("DELETE", None)):
            r = client.open(f"/api/v1/admin/facilities/{fid}", method=method, json=body, headers=auth)
            check(r, f"{method} /api/v1/admin/facilities/{fid[:40]}")
    for value in ("", "0", "-1", NINES, "1.5", "NaN", "x" * 5000, "<b>"):
        for raw in (json.dumps(value), value if value and value.lstrip("-").isdigit() else "null"):
            r = client.post("/api/v1/admin/restore", data=f'{{"version": {raw}}}', content_type="application/json",
                            headers=auth)
            check(r, f"POST /api/v1/admin/restore version={raw[:40]}")


def _upload(client, token: str, data: bytes, name: str = "in.geojson", **form) -> object:
    return client.post("/api/v1/admin/import", headers={"Authorization": f"Bearer {token}"},
                       data={"file": (io.BytesIO(data), name), **form}, content_type="multipart/form-data")


def test_hostile_uploads_are_refused_and_change_nothing(admin_app):
    """Malformed GeoJSON features ("geometry": "x" and the rest), malformed files, hostile CSV cells and form
    fields: never a 5xx, errors in the one shape, and a refused or dry-run import writes nothing."""
    app, token = admin_app
    client = app.test_client()
    store = app.extensions["workermap"].store
    before = store_state(store)
    collection = {"type": "FeatureCollection", "features": [GOOD_FEATURE]}
    for case, (feature, _, _) in sorted(MALFORMED_FEATURES.items()):
        doc = {**collection, "features": [GOOD_FEATURE, feature]}
        r = _upload(client, token, json.dumps(doc, ensure_ascii=False).encode())
        check(r, f"upload: {case}")
        assert r.status_code == 422, (case, r.get_json())
    files = [
        (b"", "in.geojson"), (b"{", "in.geojson"), (b"null", "in.json"), (b"[" * 100_000, "in.geojson"),
        (b'{"type": "FeatureCollection", "features": [' + b"1" * 5000 + b"]}", "in.geojson"),
        (json.dumps({**collection, "features": [GOOD_FEATURE] * 3}).encode(), "in.geojson"),  # duplicate ids
        (b"\xff\xfe\x00garbage", "in.csv"), (b"PK\x03\x04not a zip", "in.xlsx"), (b"lon,lat\n", "in.csv"),
        (json.dumps(collection).encode(), "in.exe"), (json.dumps(collection).encode(), "x" * 300 + ".geojson"),
    ]
    header = "id,kind,name,lon,lat,opening_hours,amenities,capacity,verified_at"
    good = ["c-1", "station", "好驿站", "120.3843", "36.062", "24/7", "rest", "4", "2025-01-01"]
    for i, value in itertools.product(range(len(good)), ["", "NaN", "inf", NINES, "-" + NINES, "1e400",
                                                           "x" * 5000, "=CMD('calc')", "\x00"]):
        row = [*good[:i], value, *good[i + 1:]]
        files.append((f"{header}\n{','.join(row)}\n".encode(), "in.csv"))
    for data, name in files:
        r = _upload(client, token, data, name, dry_run="true")
        check(r, f"upload {name[:40]}: {data[:80]!r}")
    refused = json.dumps({**collection, "features": [GOOD_FEATURE, MALFORMED_FEATURES["geometry a string"][0]]})
    for field, value in itertools.product(("crs", "replace", "dry_run"), HOSTILE_IDS):
        form = {"dry_run": "true", field: value}  # a refused file: whatever dry_run is read as, nothing is written
        check(_upload(client, token, refused.encode(), **form), f"upload with {field}={value[:40]!r}")
    r = client.post("/api/v1/admin/import", headers={"Authorization": f"Bearer {token}"}, data={"crs": "wgs84"},
                    content_type="multipart/form-data")
    check(r, "upload without a file")
    assert r.status_code == 400
    assert store_state(store) == before
