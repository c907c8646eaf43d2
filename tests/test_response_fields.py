"""Every JSON answer carries the fields its OpenAPI response schema documents, and no others.

For each operation of /api/openapi.json that answers JSON (or GeoJSON), a typical valid request is sent
in-process and the answer is compared with the documented schema: at the top level, and in every
nested object whose schema declares ``properties`` (list items, GeoJSON features and their
properties, links …). A field emitted but not documented, or documented as required but missing,
is a failure that names the path to it. An object schema may admit other members with
``additionalProperties`` (an audit entry's extra fields); the top level of a response must declare
its fields.

The requests are listed in :data:`READS` and :func:`test_admin_answers_match_their_schemas`; an
operation of the document without one fails :func:`test_every_json_operation_has_a_request`, so a
new endpoint is checked as soon as it is documented.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from geo.store.tokens import TokenStore
from tests.conftest import SMALL

JSON_TYPES = ("application/json", "application/geo+json")
#: JSON operations this test does not check, and why.
NOT_CHECKED = {("get", "/api/openapi.json"): "the OpenAPI document itself (its fields are OpenAPI's)"}
POINT = "120.3843,36.062"

#: (method, path, query string or JSON body): typical valid requests of every JSON operation but the admin
#: ones (see test_admin_answers_match_their_schemas). ``{id}`` is an existing feature of the collection.
READS: list[tuple[str, str, Any]] = [
    ("get", "/ogc", ""), ("get", "/ogc/conformance", ""), ("get", "/ogc/collections", ""),
    *[(m, p, q) for cid in ("station", "shared_home", "mother_room", "childcare", "apartment", "facilities",
                            "districts")
      for m, p, q in [("get", f"/ogc/collections/{cid}", ""), ("get", f"/ogc/collections/{cid}/items", "limit=20"),
                      ("get", f"/ogc/collections/{cid}/items/{{id}}", "")]],
    ("get", "/ogc/collections/facilities/items", f"near={POINT}&radius_m=3000&limit=5"),
    ("get", "/ogc/collections/facilities/items", "limit=3&offset=3"),
    ("get", "/api/v1/facilities", ""), ("get", "/api/v1/facilities", "kind=station&district=市南区"),
    ("get", "/api/v1/districts", ""), ("get", "/api/v1/meta", ""),
    ("get", "/api/v1/export", "format=geojson"), ("get", "/api/v1/export", f"format=geojson&near={POINT}"),
    ("get", "/api/v1/export", "format=geojson&layer=districts"),
    ("get", "/api/v1/export", "format=geojson&layer=uncovered&minutes=10&limit=3"),
    ("get", "/api/v1/nearest", "lon=120.3843&lat=36.062&k=3&radius_m=800"),
    ("get", "/api/v1/nearest", "lon=120.3843&lat=36.062&open_at=any&crs=gcj02"),
    ("post", "/api/v1/nearest", {"points": [[120.3843, 36.062], [120.3525, 36.088]], "k": 2}),
    ("get", "/api/v1/coverage", ""), ("get", "/api/v1/coverage", "district=370202&minutes=10"),
    ("get", "/api/v1/coverage/hours", "district=370202"), ("get", "/api/v1/coverage/facilities", "district=370202"),
    ("get", "/api/v1/gaps", "limit=3"),
    ("post", "/api/v1/plan", {"add": 2, "district": "370202", "min_spacing_m": 500}),
    ("get", "/api/v1/whatif", "add=120.38,36.07&district=370202"),
    ("post", "/api/v1/whatif", {"add": [[120.38, 36.07]], "district": "370202"}),
    ("get", "/api/v1/access", "limit=3"), ("get", "/api/v1/access", "district=370202&decay=step"),
    ("get", "/api/v1/usage", "district=370202"), ("get", "/api/v1/recommendations", "district=370203&limit=3"),
    ("get", "/api/v1/search", "q=Shinan&limit=20"), ("get", "/api/v1/search", "q=香港中路工会驿站"),
    ("post", "/api/v1/reports", {"kind": "new_site", "lon": 120.3843, "lat": 36.062, "text": "这里需要驿站"}),
    ("get", "/api/v1/reports/layer", ""), ("get", "/api/v1/reports/summary", "facility_id=st-370202-0001"),
    ("get", "/healthz", ""),
    ("get", "/tiles/facilities/{z}/{x}/{y}.geojson", "kind=station"),  # {z}/{x}/{y}: 12/3417/1607 and 9/427/200
]


@pytest.fixture(scope="module")
def spec(sample_app) -> dict:
    return sample_app.test_client().get("/api/openapi.json").get_json(force=True)


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        section, name = schema["$ref"].split("/")[-2:]
        schema = spec["components"][section][name]
    return schema


def field_problems(value: Any, schema: dict, spec: dict, where: str = "") -> list[str]:
    """What in ``value`` the ``schema`` does not document (or requires but is missing), by path."""
    schema = _resolve(schema, spec)
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives and not schema.get("properties"):
        tries = [field_problems(value, alt, spec, where) for alt in alternatives]
        return min(tries, key=len) if all(tries) else []
    out: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        if not schema.get("additionalProperties"):
            out += [f"{where}.{k}: emitted, not documented" for k in value if k not in props]
        out += [f"{where}.{k}: documented as required, missing" for k in schema.get("required", ())
                if k not in value]
        for k, v in value.items():
            if k in props and v is not None:
                out += field_problems(v, props[k], spec, f"{where}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value[:50]):
            out += field_problems(item, schema["items"], spec, f"{where}[{i}]")
    return out


def response_problems(spec: dict, method: str, path: str, response) -> list[str]:
    """The problems of one answer against the schema its path, method and status document."""
    op = spec["paths"][path][method]
    documented = op["responses"].get(str(response.status_code))
    if documented is None:
        return [f"status {response.status_code} is not documented: {response.get_data(as_text=True)[:200]}"]
    content = _resolve(documented, spec).get("content", {})
    media = response.mimetype
    if media not in content:
        return [f"{media} is not a documented content type of {response.status_code}"]
    schema = _resolve(content[media]["schema"], spec)
    readings = [_resolve(s, spec) for s in schema.get("anyOf", schema.get("oneOf", [schema]))]
    if not all("properties" in s for s in readings):
        return [f"the {response.status_code} {media} schema declares no fields"]
    return field_problems(response.get_json(force=True), schema, spec, "")


def _json_operations(spec: dict) -> set[tuple[str, str]]:
    out = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ok = [r for code, r in op["responses"].items() if code.startswith("2")]
            if any(set(_resolve(r, spec).get("content", {})) & set(JSON_TYPES) for r in ok):
                out.add((method, path))
    return out


def test_every_json_operation_has_a_request(spec):
    requested = {(m, p.replace("{id}", "{featureId}")) for m, p, _ in READS} | set(ADMIN) | set(NOT_CHECKED)
    assert _json_operations(spec) - requested == set(), "JSON operations without a request in this test"


def _send(client, method: str, path: str, query_or_body):
    if isinstance(query_or_body, dict):
        return client.open(path, method=method.upper(), json=query_or_body)
    return client.open(f"{path}?{query_or_body}" if query_or_body else path, method=method.upper())


@pytest.mark.parametrize(("method", "path", "query"), READS, ids=[f"{m} {p} {q}"[:90] for m, p, q in READS])
def test_answers_match_their_schemas(sample_app, spec, method, path, query):
    documented = path
    if "{id}" in path:
        cid = path.split("/")[3]
        example = next(p for p in spec["paths"][path.replace("{id}", "{featureId}")]["get"]["parameters"]
                       if p["name"] == "featureId").get("example")
        if example is None:
            pytest.skip(f"no {cid} in the sample")
        documented, path = path.replace("{id}", "{featureId}"), path.replace("{id}", example)
    tiles = ("12/3417/1607", "9/427/200") if "{z}" in path else ("{z}/{x}/{y}",)
    for sent in [path.replace("{z}/{x}/{y}", t) for t in tiles]:
        r = _send(sample_app.test_client(), method, sent, query)
        assert r.status_code < 300, r.get_data(as_text=True)[:500]
        assert response_problems(spec, method, documented, r) == []


#: The admin operations, in the order the test sends them (the delete, import and restore change the registry).
ADMIN = [("post", "/api/v1/admin/facilities"), ("patch", "/api/v1/admin/facilities/{facility_id}"),
         ("get", "/api/v1/admin/versions"), ("get", "/api/v1/admin/audit"), ("post", "/api/v1/admin/import"),
         ("post", "/api/v1/admin/restore"), ("get", "/api/v1/admin/reports"),
         ("post", "/api/v1/admin/reports/{report_id}/resolve"), ("delete", "/api/v1/admin/facilities/{facility_id}")]


def test_admin_answers_match_their_schemas(app, client):
    st = app.extensions["workermap"]
    spec = client.get("/api/openapi.json").get_json(force=True)
    auth = {"Authorization": f"Bearer {TokenStore(st.store).add('tester')}"}
    new = {"id": "t-new", "kind": "station", "name": "新驿站", "lon": 120.39, "lat": 36.07,
           "opening_hours": "24/7", "amenities": ["rest", "toilet"]}
    csv = "名称,类型,经度,纬度\n上传驿站,station,120.3525,36.0880\n".encode()
    fid = SMALL[0].id
    report = client.post("/api/v1/reports", json={"kind": "closed", "facility_id": fid, "text": "锁门"}).get_json()
    sent = [
        client.post("/api/v1/admin/facilities", json=new, headers=auth),
        client.patch(f"/api/v1/admin/facilities/{fid}", json={"status": "maintenance"}, headers=auth),
        client.get("/api/v1/admin/versions", headers=auth),
        client.get("/api/v1/admin/audit", headers=auth),
        client.post("/api/v1/admin/import", data={"file": (io.BytesIO(csv), "x.csv"), "dry_run": "true"},
                    headers=auth, content_type="multipart/form-data"),
        client.post("/api/v1/admin/restore", json={"version": 1}, headers=auth),
        client.get("/api/v1/admin/reports?status=all", headers=auth),
        client.post(f"/api/v1/admin/reports/{report['id']}/resolve", json={"note": "checked", "edit": {
            "verified_at": "2026-11-01"}}, headers=auth),
        client.delete(f"/api/v1/admin/facilities/{fid}", headers=auth),
    ]
    problems = {}
    for (method, path), r in zip(ADMIN, sent, strict=True):
        assert r.status_code < 300, (method, path, r.get_data(as_text=True)[:300])
        problems[f"{method} {path}"] = response_problems(spec, method, path, r)
    assert problems == {k: [] for k in problems}


def test_the_check_finds_undocumented_and_missing_fields(spec):
    """The comparison itself: an extra field, a missing required one, one inside a list item."""
    schema = {"$ref": "#/components/schemas/Collections"}
    good = {"links": [{"href": "x", "rel": "self"}], "collections": []}
    assert field_problems(good, schema, spec) == []
    bad = {"links": [{"href": "x", "colour": "red"}], "extra": 1}
    assert sorted(field_problems(bad, schema, spec)) == [
        ".collections: documented as required, missing", ".extra: emitted, not documented",
        ".links[0].colour: emitted, not documented", ".links[0].rel: documented as required, missing"]
