"""Capacity-aware access (E2SFCA, geo/access.py): a hand-computed example, PySAL's ``access`` as an independent
reference on the shipped data, the shortage areas, the API and the command line."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from geo.access import compute_access, decay_weights, facility_places
from geo.coverage import FacilityFilter, PreparedGrid, Threshold
from geo.crs import to_lonlat
from geo.demand import DemandGrid, load_demand
from geo.model import Facility
from geo.nearest import FacilityIndex, Travel
from geo.settings import SHIPPED_DATA
from tests.conftest import shipped_sample
from tests.tools import need_module

# ----------------------------------------------------------------------------- a hand-computed example

#: Five 100 m cells in a row (centres x = 500,050 … 500,450 m, EPSG:4549) with 10, 20, 30, 40, 50 workers.
CELL_X = 500_050.0 + 100.0 * np.arange(5)
Y = 4_000_050.0
WORKERS = [10.0, 20.0, 30.0, 40.0, 50.0]
#: Three stations on the same line, with 6, 12 and 9 places.
STATIONS = [(500_080.0, 6), (500_300.0, 12), (500_470.0, 9)]


def _example_grid() -> PreparedGrid:
    lon, lat = to_lonlat(CELL_X, np.full(5, Y))
    return PreparedGrid(DemandGrid(CELL_X, np.full(5, Y), np.asarray(lon), np.asarray(lat), np.full(5, "370202"),
                                   np.full(5, 100.0), np.array(WORKERS), cell_m=100), {"370202": "市南区"})


def _example_index() -> FacilityIndex:
    out = []
    for n, (x, places) in enumerate(STATIONS, start=1):
        lon, lat = to_lonlat(x, Y)
        out.append(Facility(f"F{n}", "station", f"驿站{n}", float(lon), float(lat), "370202", "市南区",
                            capacity=places))
    return FacilityIndex(out)


def test_hand_computed_example_with_step_weights():
    """Catchment 300 m, Luo & Qi's step weights: 1 up to 100 m, 0.68 up to 200 m, 0.22 up to 300 m, 0 beyond.

    Distances (m) from F1 (x = 500,080) to the cells: 30, 70, 170, 270, 370 -> W 1, 1, 0.68, 0.22, 0
                  from F2 (x = 500,300):              250, 150, 50, 50, 150  -> W 0.22, 0.68, 1, 1, 0.68
                  from F3 (x = 500,470):              420, 320, 220, 120, 20 -> W 0, 0, 0.22, 0.68, 1
    Step 1: D1 = 10·1 + 20·1 + 30·0.68 + 40·0.22 = 59.2; D2 = 10·0.22 + 20·0.68 + 30 + 40 + 50·0.68 = 119.8;
            D3 = 30·0.22 + 40·0.68 + 50·1 = 83.8; R = 6/59.2, 12/119.8, 9/83.8 = 0.101351351, 0.100166945, 0.107398568.
    Step 2: A0 = R1 + 0.22·R2 = 0.123388079; A1 = R1 + 0.68·R2 = 0.169464874;
            A2 = 0.68·R1 + R2 + 0.22·R3 = 0.192713549; A3 = 0.22·R1 + R2 + 0.68·R3 = 0.195495268;
            A4 = 0.68·R2 + R3 = 0.175512091 places per worker.
    """
    acc = compute_access(_example_grid(), _example_index(), Threshold.metres(300), decay="step")
    assert acc.reach.tolist() == pytest.approx([59.2, 119.8, 83.8], abs=1e-9)
    assert acc.ratio.tolist() == pytest.approx([0.101351351, 0.100166945, 0.107398568], abs=1e-9)
    assert acc.index.tolist() == pytest.approx([0.123388079, 0.169464874, 0.192713549, 0.195495268, 0.175512091],
                                               abs=1e-9)
    # every place is shared out: Σ P·A = 6 + 12 + 9
    assert float(np.dot(WORKERS, acc.index)) == pytest.approx(27.0, abs=1e-9)
    city = acc.city_row(6.0)
    assert city["accessible_places"] == 27.0 and city["demand_per_place"] == round(150 / 27, 1)
    # demand per place 1/A: 8.10, 5.90, 5.19, 5.12, 5.70 -> with a threshold of 6 only the first cell is short;
    # it lacks 10/6 − 10·0.123388079 = 0.43 places, so 1 place at F1 (whose places it uses most: 10·R1·1 > 10·R2·0.22)
    (area,) = acc.shortage_areas(6.0)
    assert (area.cells, area.demand, area.places_needed, area.facility["id"]) == (1, 10.0, 1, "F1")
    assert area.demand_per_place == round(1 / 0.123388079, 1)
    assert city["shortage_cells"] == 1 and city["places_needed"] == 1


def test_hand_computed_example_with_gaussian_and_no_decay():
    """Gaussian: W = exp(-d²/2σ²), σ = 150 m for a 300 m catchment; none: W = 1 within 300 m."""
    grid, index = _example_grid(), _example_index()
    w = lambda d: np.exp(-0.5 * (np.asarray(d) / 150.0) ** 2) * (np.asarray(d) <= 300)  # noqa: E731
    dist = np.array([[30, 70, 170, 270, 370], [250, 150, 50, 50, 150], [420, 320, 220, 120, 20]], dtype=float)
    for decay, weights in (("gaussian", w(dist)), ("none", (dist <= 300).astype(float))):
        ratio = np.array([6, 12, 9]) / (weights @ np.array(WORKERS))
        acc = compute_access(grid, index, Threshold.metres(300), decay=decay)
        assert acc.index.tolist() == pytest.approx((ratio @ weights).tolist(), rel=1e-9), decay


def test_decay_uses_route_metres_and_ends_at_the_catchment():
    t = Threshold.minutes_by(15, "walk", Travel(detour_factor=1.3))
    assert t.radius_m * 1.3 == pytest.approx(15 * 4800 / 60)  # the catchment is 1,200 route metres
    assert decay_weights(np.array([1.0, 1.0 + 1e-9]), "gaussian").tolist() == [pytest.approx(np.exp(-2)), 0.0]
    with pytest.raises(ValueError, match="decay"):
        decay_weights(np.array([0.5]), "linear")


def test_a_facility_without_capacity_counts_as_its_kinds_median():
    fs = [Facility(str(i), kind, "x", 120.38, 36.06, "370202", "市南区", capacity=c) for i, (kind, c) in
          enumerate([("station", 10), ("station", 30), ("station", None), ("apartment", None),
                     ("station", 40), ("apartment", 120), ("apartment", 60)])]
    places, imputed, used = facility_places(fs[:4], fs)
    assert places.tolist() == [10, 30, 30, 90] and imputed.tolist() == [False, False, True, True]
    assert used == {"station": 30, "apartment": 90}
    places, _, used = facility_places([Facility("m", "mother_room", "x", 120.38, 36.06, "370202", "市南区")])
    assert places.tolist() == [1.0] and used == {"mother_room": 1}


# ----------------------------------------------------------------------------- PySAL access as a reference


@pytest.fixture(scope="module")
def two_districts():
    """The shipped grid's cells and the sample's facilities in 市南区 and 市北区 (a dense, realistic instance)."""
    g = load_demand(SHIPPED_DATA / "demand_grid_250m.csv.gz")
    m = np.isin(g.adcode, ["370202", "370203"])
    grid = DemandGrid(g.x[m], g.y[m], g.lon[m], g.lat[m], g.adcode[m], g.residents[m], g.workers[m], cell_m=g.cell_m)
    registry, _ = shipped_sample()
    return PreparedGrid(grid), FacilityIndex([f for f in registry.facilities
                                              if f.district_adcode in ("370202", "370203")])


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside PySAL access 1.1.10, with pandas 3.1
@pytest.mark.parametrize("decay", ["gaussian", "step", "none"])
@pytest.mark.parametrize(("minutes", "mode", "demand"), [(15, "walk", "workers"), (10, "ebike", "residents")])
def test_equals_pysal_access_e2sfca(two_districts, decay, minutes, mode, demand):
    """PySAL ``access`` (Access.enhanced_two_stage_fca) on the full cell × facility cost table (straight line ×
    detour factor, computed here by brute force), with its own weight functions: the same values in every cell."""
    pd = need_module("pandas")
    pysal = need_module("access")
    prepared, index = two_districts
    threshold = Threshold.minutes_by(minutes, mode)
    acc = compute_access(prepared, index, threshold, facility_filter=FacilityFilter(), demand=demand, decay=decay)
    g, detour = prepared.grid, threshold.travel.detour_factor
    sx, sy = acc.sites.x, acc.sites.y
    cost = np.hypot(g.x[:, None] - sx[None, :], g.y[:, None] - sy[None, :]) * detour
    origin, dest = np.indices(cost.shape)
    catchment = threshold.radius_m * detour
    weight = {"gaussian": pysal.weights.gaussian(catchment / 2),
              "step": pysal.weights.step_fn({catchment / 3: 1, 2 * catchment / 3: 0.68, catchment: 0.22}),
              "none": lambda _: 1.0}[decay]
    model = pysal.Access(
        demand_df=pd.DataFrame({"cell": np.arange(len(g.x)), "people": prepared.demand(demand)}),
        demand_index="cell", demand_value="people",
        supply_df=pd.DataFrame({"site": np.arange(len(sx)), "places": acc.places}), supply_index="site",
        supply_value="places", cost_df=pd.DataFrame({"o": origin.ravel(), "d": dest.ravel(), "c": cost.ravel()}),
        cost_origin="o", cost_dest="d", cost_name="c")
    ref = model.enhanced_two_stage_fca(name="e2", max_cost=catchment, weight_fn=weight)["e2_places"]
    ref = ref.reindex(np.arange(len(g.x))).to_numpy()
    reached = np.isfinite(ref)  # PySAL leaves cells beyond every catchment out (NaN); ours are 0
    assert reached.sum() > 1000 and (acc.index[~reached] == 0).all()
    assert np.allclose(acc.index[reached], ref[reached], rtol=1e-9, atol=1e-15)


def test_citywide_places_are_conserved_and_tables_add_up(sample_app):
    st = sample_app.extensions["workermap"]
    acc = compute_access(st.demand, st.index, Threshold.minutes_by(15, "walk"))
    supplied = acc.places[acc.reach > 0].sum()
    assert float(np.dot(acc.demand, acc.index)) == pytest.approx(supplied, rel=1e-9)
    t = acc.default_max_demand_per_place()
    city, rows = acc.city_row(t), acc.district_table(t)
    assert sum(r["demand"] for r in rows) == pytest.approx(city["demand"], abs=1)
    assert sum(r["shortage_cells"] for r in rows) == city["shortage_cells"]
    assert sum(r["places"] for r in rows) == pytest.approx(city["places"])
    assert city["demand_per_place"] == pytest.approx(city["demand_in_reach"] / city["accessible_places"], abs=0.1)
    assert t == round(2 * city["demand_in_reach"] / supplied, 1)


def test_shortage_areas_are_short_ranked_and_in_their_district(sample_app):
    st = sample_app.extensions["workermap"]
    acc = compute_access(st.demand, st.index, Threshold.minutes_by(15, "walk"))
    t = acc.default_max_demand_per_place()
    areas = acc.shortage_areas(t, limit=None)
    assert len(areas) > 20
    needed = [a.places_needed for a in areas]
    assert needed == sorted(needed, reverse=True) and all(n >= 1 for n in needed)
    assert all(a.demand_per_place >= t - 0.05 for a in areas)  # every cell's is above t (rounded to 0.1)
    assert sum(a.cells for a in areas) == acc.city_row(t)["shortage_cells"]
    for a in areas[:20]:
        assert st.districts.locate(a.lon, a.lat)[0] == a.adcode
        assert a.geometry.is_valid and a.facility is not None
        assert a.facility["distance_m"] <= acc.catchment_m + 1e-6


# ----------------------------------------------------------------------------- API and command line


def test_access_api_answers_and_refuses(sample_app):
    c = sample_app.test_client()
    r = c.get("/api/v1/access?district=市南区&limit=5&decay=step")
    assert r.status_code == 200
    body = r.get_json()
    a = body["assumptions"]
    assert (a["decay"], a["district"], a["catchment_m"], body["sample"]) == ("step", "370202", 1200.0, True)
    assert [d["adcode"] for d in body["districts"]] == ["370202"]
    assert len(body["shortage"]["features"]) == 5 and body["shortage"]["type"] == "FeatureCollection"
    assert all(f["district"] == "市南区" for f in body["facilities"])
    png_url = urlsplit(body["grid"]["png"])
    assert png_url.path == "/api/v1/access/grid.png"
    assert parse_qs(png_url.query) == {"district": ["市南区"], "decay": ["step"]}
    png = c.get(body["grid"]["png"])
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG" and png.headers["X-Overlay-Bounds"]
    for query, status, parameter in [("decay=linear", 400, "decay"), ("max_demand_per_place=0", 400,
                                                                       "max_demand_per_place"),
                                     ("district=Atlantis", 400, "district"), ("limit=5", 400, "limit"),
                                     ("minutes=120&mode=ebike", 422, "minutes"),
                                     ("threshold_m=40000", 422, "threshold_m")]:
        path = "/api/v1/access/grid.png" if query == "limit=5" else "/api/v1/access"
        r = c.get(f"{path}?{query}")
        assert r.status_code == status, query
        err = r.get_json()["error"]
        assert err["parameter"] == parameter and err["message"], query


def test_no_eligible_facility_is_an_answer_not_an_error(sample_app):
    r = sample_app.test_client().get("/api/v1/access?kind=apartment&amenity=aed&amenity=childcare")
    assert r.status_code == 200
    body = r.get_json()
    assert body["assumptions"]["eligible_facilities"] == 0 and body["city"]["places"] == 0
    assert body["city"]["demand_no_access"] == body["city"]["demand"] and body["shortage"]["features"] == []


def test_cli_prints_what_the_api_answers(sample_app, runner, tmp_path):
    from cli import main

    args = ["--data-dir", str(tmp_path), "access", "--district", "370203", "--mode", "ebike", "--minutes", "10",
            "--limit", "4", "--json", "--out", str(tmp_path / "cells.csv")]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    cli = json.loads(r.output)
    api = sample_app.test_client().get("/api/v1/access?district=370203&mode=ebike&minutes=10&limit=4").get_json()
    api["grid"].pop("png")
    assert cli == api
    rows = (tmp_path / "cells.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("adcode,lon,lat,x_m,y_m,demand,places_per_1000,demand_per_place,class")
    assert len(rows) - 1 == api["districts"][0]["cells"]
    table = runner.invoke(main, ["--data-dir", str(tmp_path), "access", "--district", "市北区"])
    assert table.exit_code == 0 and "shortage areas" in table.output and "市北区" in table.output


@pytest.mark.parametrize(("args", "needle"), [(["--decay", "linear"], "--decay"),
                                              (["--district", "Atlantis"], "--district"),
                                              (["--mode", "ebike", "--minutes", "120"], "catchment")])
def test_cli_bad_input_is_one_line_exit_2(runner, tmp_path, args, needle):
    from cli import main

    r = runner.invoke(main, ["--data-dir", str(tmp_path), "access", *args])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert needle in r.output and "Traceback" not in r.output and len(lines) <= 4
