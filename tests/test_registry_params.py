"""Parameters declared once (geo.registry_params): the views parse with the declarations, the OpenAPI
document shows them, ``workermap export`` takes them as options; and what the declarations added to
geo.params (comma-separated numbers, values known at run time, empty values refused, ASCII integers)."""

from __future__ import annotations

import pytest

from cli import main
from geo.errors import ParameterError
from geo.navigation import navigation_links
from geo.params import Param, Params, UnknownParameter
from geo.registry_params import (
    AUDIT,
    BBOX,
    DISTRICTS,
    EXPORT,
    FACILITY_FILTERS,
    FORMAT,
    NEAR,
    NO_PARAMETERS,
    PAGING,
    RESTORE,
    VERSIONS,
)
from tests.test_ogc import error_of

# -- geo.params: what the declarations of this module needed ---------------------------------------------


@pytest.mark.parametrize("raw", ["٣", "１２", "1_0", "0x10", "1e3", "3.5", "", "²"])
def test_an_integer_is_ascii_digits(raw):
    k = Param("k", "integer", "k", lo=1, hi=10_000)
    if raw == "":
        assert k.parse({"k": raw}) is None
        return
    with pytest.raises(ParameterError) as exc:
        k.parse({"k": raw})
    assert exc.value.parameter == "k"


def test_an_integer_may_have_a_sign_spaces_or_be_json():
    k = Param("k", "integer", "k", lo=-5, hi=5)
    assert [k.parse({"k": v}) for v in (" 3 ", "+2", "-1", 4, 5.0)] == [3, 2, -1, 4, 5]


def test_numbers_count_and_converter_messages():
    with pytest.raises(ParameterError, match=r"bbox must be 4 or 6 .*got '1,2,x': a value is not a number"):
        BBOX.parse({"bbox": "1,2,x"})
    with pytest.raises(ParameterError, match="5 numbers"):
        BBOX.parse({"bbox": "1,2,3,4,5"})
    with pytest.raises(ParameterError, match="the lower-left latitude 37.0 is above the upper-right latitude 36.0"):
        BBOX.parse({"bbox": "120,37,121,36"})
    with pytest.raises(ParameterError, match="a value is not a number"):
        NEAR.parse({"near": "120.38,nan"})
    assert BBOX.parse({"bbox": "120,36,0,121,37,5000"}) == (120.0, 36.0, 121.0, 37.0)  # heights ignored, any


def test_a_lookup_parameter_needs_its_values():
    with pytest.raises(TypeError):
        DISTRICTS.parse({"district": "市南区"})
    names = {"370202": "370202", "市南区": "370202"}
    with pytest.raises(ParameterError) as exc:
        DISTRICTS.parse({"district": "北京"}, lookup=names)
    assert exc.value.allowed == "Qingdao district adcodes or names (e.g. 370202, 市南区, Shinan), one or more of 370202"
    assert DISTRICTS.openapi(["370202", "市南区"])["schema"] == {"type": "array", "items": {
        "type": "string", "enum": ["370202", "市南区"]}}


def test_values_by_reference_are_read_when_needed():
    from geo.export import DOWNLOAD_FORMATS

    assert FORMAT.values == "geo.export:DOWNLOAD_FORMATS" and FORMAT.allowed_values() == tuple(DOWNLOAD_FORMATS)


def test_empty_values_refused_where_asked_and_unknown_names_everywhere():
    with pytest.raises(ParameterError, match="limit is empty"):
        PAGING.parse({"limit": ""}, allow_empty=False)
    assert PAGING.parse({"limit": ""})["limit"] == 100
    with pytest.raises(UnknownParameter, match="unknown parameter 'x'; this endpoint takes none"):
        NO_PARAMETERS.reject_unknown({"x": "1"})
    with pytest.raises(UnknownParameter, match="allowed: f, limit, offset"):
        PAGING.reject_unknown({"x": "1"})


def test_radius_needs_near_as_a_domain_rule():
    values = FACILITY_FILTERS.parse({"radius_m": "500"}, lookups={"district": {}})
    from geo.query import FacilityFilter

    with pytest.raises(ParameterError, match="radius_m=500 needs near"):
        FacilityFilter.of(values)


# -- the views parse with the declarations ------------------------------------------------------------------


def test_facilities_takes_every_district_name_like_the_ogc_api(client):
    """/api/v1/facilities reads district with the OGC API's declaration: English names too (they were a 400)."""
    by = {q: {f["id"] for f in client.get(f"/api/v1/facilities?district={q}").get_json(force=True)["features"]}
          for q in ("370203", "市北区", "Shibei")}
    assert by == {"370203": {"t-004"}, "市北区": {"t-004"}, "Shibei": {"t-004"}}
    err = error_of(client.get("/api/v1/facilities?district=Atlantis"))
    assert err["parameter"] == "district" and "370202" in err["allowed"]


@pytest.mark.parametrize("query,param", [
    ("layer=uncovered&crs=gcj02", "crs"), ("layer=uncovered&bbox=120,36,121,37", "bbox"),
    ("layer=uncovered&near=120.38,36.06", "near"), ("layer=uncovered&status=open", "status"),
    ("layer=uncovered&datetime=2025-01-01", "datetime"), ("layer=uncovered&radius_m=5", "radius_m"),
    ("layer=districts&limit=3", "limit"), ("layer=facilities&minutes=10", "minutes"),
])
def test_each_export_layer_refuses_what_another_takes(client, query, param):
    err = error_of(client.get(f"/api/v1/export?{query}"))
    assert (err["code"], err["parameter"]) == ("unknown_parameter", param)


def test_the_uncovered_export_takes_the_gaps_parameters(client):
    r = client.get("/api/v1/export?layer=uncovered&format=geojson&minutes=10&limit=2&demand=residents&kind=any")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json(force=True)["assumptions"]["ranked_by"] == "uncovered residents"


@pytest.mark.parametrize("path,query,param,allowed", [
    ("/api/v1/admin/audit", "limit=10001", "limit", "an integer between 1 and 10000"),
    ("/api/v1/admin/versions", "limit=0", "limit", "an integer between 1 and 100000"),
    ("/api/v1/admin/versions", "colour=red", "colour", None),
])
def test_admin_query_parameters(app, client, path, query, param, allowed):
    from geo.store.tokens import TokenStore

    token = TokenStore(app.extensions["workermap"].store).add("tester")
    err = error_of(client.get(f"{path}?{query}", headers={"Authorization": f"Bearer {token}"}))
    assert err["parameter"] == param and (allowed is None or err["allowed"] == allowed)


def test_restore_body_is_the_declared_object(app, client):
    from geo.store.tokens import TokenStore

    auth = {"Authorization": f"Bearer {TokenStore(app.extensions['workermap'].store).add('tester')}"}
    err = error_of(client.post("/api/v1/admin/restore", json={"version": 1, "force": True}, headers=auth))
    assert (err["code"], err["parameter"]) == ("unknown_parameter", "force")
    err = error_of(client.post("/api/v1/admin/restore", json={}, headers=auth))
    assert (err["code"], err["parameter"]) == ("missing_parameter", "version")
    assert client.post("/api/v1/admin/restore", json={"version": " 1"}, headers=auth).status_code == 200


def test_worker_hours_at(client):
    assert client.get("/worker/hours?at=2026-11-24T10:00").get_json()["at"] == "2026-11-24T10:00+08:00"
    err = error_of(client.get("/worker/hours?at=any"))
    assert err["parameter"] == "at" and "'now'" in err["allowed"]


def test_ogc_radius_has_the_nearest_range(client):
    """radius_m is 1 m .. MAX_RADIUS_M like /api/v1/nearest's (it was > 0)."""
    err = error_of(client.get("/ogc/collections/facilities/items?near=120.38,36.06&radius_m=0.5"))
    assert err["allowed"] == "a number between 1 and 200000 (metres)"


# -- the OpenAPI document is made from them -----------------------------------------------------------------


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/openapi.json").get_json(force=True)


def test_documented_parameters_are_the_declarations(spec, app):
    lookups = {"district": tuple(app.extensions["workermap"].districts.lookup)}
    components = spec["components"]["parameters"]
    for p in (*FACILITY_FILTERS, *PAGING):
        assert components[p.name] == p.openapi(lookups.get(p.name)), p.name
    admin = {path: spec["paths"][path] for path in ("/api/v1/admin/audit", "/api/v1/admin/versions")}
    assert admin["/api/v1/admin/audit"]["get"]["parameters"] == AUDIT.openapi()
    assert admin["/api/v1/admin/versions"]["get"]["parameters"] == VERSIONS.openapi()
    body = spec["paths"]["/api/v1/admin/restore"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"] == RESTORE.json_properties() and body["required"] == ["version"]


def test_export_documents_what_each_layer_takes(spec):
    docs = {p["name"]: p for p in spec["paths"]["/api/v1/export"]["get"]["parameters"]}
    assert set(docs) == set().union(*(declared.names for declared in EXPORT.values()))
    for name in ("bbox", "datetime", "status", "near", "radius_m", "crs"):  # refused by layer=uncovered
        assert "uncovered" not in docs[name]["description"].split(" only.")[0], name
    assert docs["limit"]["description"].startswith("layer=uncovered only.")
    assert docs["district"]["description"].startswith("layer=facilities|districts: Districts")
    assert "layer=uncovered: Only this district" in docs["district"]["description"]


def test_navigation_links_documented_are_the_ones_emitted(spec):
    documented = spec["components"]["schemas"]["NearestHit"]["properties"]["navigation"]
    assert set(documented["properties"]) == set(documented["required"]) == set(
        navigation_links(120.38, 36.06, "x", origin=(120.39, 36.07)))
    assert "Tencent" not in str(documented) and "OSM" not in str(documented)


# -- workermap export -----------------------------------------------------------------------------------------


def _export(runner, data_dir, tmp_path, *args):
    out = tmp_path / "x.out"
    r = runner.invoke(main, ["--data-dir", str(data_dir), "export", *args, "--out", str(out)])
    return r, out


def test_cli_export_takes_the_api_filters_and_gives_the_same_bytes(runner, data_dir, tmp_path, client):
    args = ["--format", "csv", "--district", "Shinan", "--amenity", "rest", "--near", "120.3843,36.062",
            "--radius-m", "5000", "--crs", "gcj02", "--status", "open", "--status", "removed"]
    r, out = _export(runner, data_dir, tmp_path, *args)
    assert r.exit_code == 0, r.output
    api = client.get("/api/v1/export?format=csv&district=Shinan&amenity=rest&near=120.3843,36.062&radius_m=5000"
                     "&crs=gcj02&status=open,removed")
    assert api.status_code == 200 and out.read_bytes() == api.data
    r, out = _export(runner, data_dir, tmp_path, "--layer", "districts", "--format", "geojson", "--bbox",
                     "120.38,36.06,120.39,36.07")
    api = client.get("/api/v1/export?layer=districts&format=geojson&bbox=120.38,36.06,120.39,36.07")
    assert r.exit_code == 0 and out.read_bytes() == api.data


@pytest.mark.parametrize("args,expected", [
    (["--layer", "districts", "--kind", "station"], "--kind does not apply to --layer districts"),
    (["--bbox", "1,2,3"], "invalid value for --bbox"),
    (["--radius-m", "500"], "invalid value for --radius-m: radius_m=500 needs near"),
    (["--district", "Atlantis"], "invalid value for --district"),
    (["--near", "36.06,120.38"], "swapped"),
    (["--layer", "uncovered"], "'uncovered' is not one of"),
])
def test_cli_export_refuses_what_the_api_refuses(runner, data_dir, tmp_path, args, expected):
    r, out = _export(runner, data_dir, tmp_path, *args)
    assert r.exit_code == 2 and expected in r.output and not out.exists(), r.output
    assert "Traceback" not in r.output


def test_empty_params_parse_to_nothing():
    assert Params().parse({}) == {}
