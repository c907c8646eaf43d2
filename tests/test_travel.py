"""The travel engine (geo/travel.py) against independent references.

References: hand-worked raster paths around a bay; the straight line's triangle inequality and the
16-move raster's stated overestimate; networkx Dijkstra (single pair and multi-source) on the same random
directed graphs; today's straight-line numbers (``geo.coverage.nearest_sites``, ``Travel.minutes``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from geo.coverage import Sites, nearest_sites
from geo.crs import to_lonlat, to_metric
from geo.errors import ParameterError
from geo.nearest import Travel
from geo.settings import Settings
from geo.travel import (
    LAND_OVERESTIMATE,
    MIN_COMPONENT_NODES,
    SNAP_CAP_M,
    TRAVEL_MODELS,
    LandGrid,
    RoadGraph,
    TravelContext,
    pair_distances,
    route_distances,
)
from tests.conftest import shipped_sample
from tests.tools import need_module

CELL = 100.0
X0, Y0 = 533_000.0, 3_990_000.0  # EPSG:4549, near 五四广场 (市南区)
T = Travel()  # 1.3 × straight line, 4.8 km/h walking (80 m a minute), 15 km/h e-bike (250 m a minute)
SQ2, SQ5 = math.sqrt(2.0), math.sqrt(5.0)


def centre(row, col):
    """EPSG:4549 centre of a raster cell of the synthetic masks (origin X0, Y0)."""
    return X0 + (np.asarray(col) + 0.5) * CELL, Y0 + (np.asarray(row) + 0.5) * CELL


# --------------------------------------------------------------------------- land: the bay


def bay_mask() -> np.ndarray:
    """30 × 30 cells of 100 m: a bay 10 cells wide (columns 10-19) opening north from row 5 to the edge: land on
    both sides of it, joined only south of it (rows 0-4)."""
    mask = np.ones((30, 30), dtype=bool)
    mask[5:, 10:20] = False
    return mask


@pytest.fixture(scope="module")
def bay():
    return TravelContext(land=LandGrid(bay_mask(), X0, Y0, CELL))


# west shore (row 20, col 8) to east shore (row 20, col 21): 1,300 m straight across the water. Over land: a knight
# move and 13 steps down to (5, 9), a diagonal round the bay's corner to (4, 10), 9 steps along its head to (4, 19),
# a diagonal to (5, 20), 13 steps and a knight move up to (20, 21). (Going to (4, 9) first, or a knight move
# (5, 8) -> (4, 10), is longer; a knight move (6, 9) -> (4, 10) would cross the water cell (5, 10): not allowed.)
ACROSS_M = 1300.0
AROUND_M = 2 * (13 * CELL + SQ5 * CELL) + 2 * SQ2 * CELL + 9 * CELL


def test_bay_straight_crosses_the_water_and_land_goes_round(bay):
    sx, sy = centre(20, 8)
    tx, ty = centre(20, 21)
    straight = route_distances("straight", "walk", [sx], [sy], [tx], [ty], travel=T, context=bay)
    land = route_distances("land", "walk", [sx], [sy], [tx], [ty], travel=T, context=bay)
    assert straight.path_m[0] == pytest.approx(ACROSS_M, abs=1e-9)
    assert straight.minutes[0] == pytest.approx(ACROSS_M * 1.3 / 80.0, abs=1e-9)
    assert land.path_m[0] == pytest.approx(AROUND_M, abs=1e-6)
    assert land.minutes[0] == pytest.approx(AROUND_M * 1.3 / 80.0, abs=1e-9)
    assert land.source[0] == straight.source[0] == 0
    path, minutes = pair_distances("land", "walk", sx, sy, [tx], [ty], travel=T, context=bay)
    assert path[0] == pytest.approx(AROUND_M, abs=1e-6) and minutes[0] == land.minutes[0]


def test_bay_coverage_crosses_the_water_only_in_a_straight_line(bay):
    """25 minutes' walk from a station on the west shore: 1,538 m straight; the straight circle covers the east
    shore across the water, the land model none of it (every way round is longer)."""
    rows, cols = np.nonzero(bay_mask())
    tx, ty = centre(rows, cols)
    sx, sy = centre(20, 8)
    east = (cols >= 20) & (rows >= 5)
    straight = route_distances("straight", "walk", [sx], [sy], tx, ty, travel=T, context=bay, limit_minutes=25)
    land = route_distances("land", "walk", [sx], [sy], tx, ty, travel=T, context=bay, limit_minutes=25)
    assert straight.reached[east].sum() > 20
    assert not land.reached[east].any()
    assert np.all(land.path_m[land.reached] >= straight.path_m[land.reached] - 1e-9)  # never shorter
    radius = T.radius_m(25, "walk")
    assert np.array_equal(straight.reached, np.hypot(tx - sx, ty - sy) <= radius)
    assert np.all(land.minutes[land.reached] <= 25) and np.all(np.isinf(land.minutes[~land.reached]))
    assert land.reached[(cols < 10)].sum() > 50  # the west shore is covered as the circle covers it


def test_land_unlimited_reaches_every_cell_and_picks_the_nearest_by_land(bay):
    """Two stations, one on each shore: every cell's nearest by land is the one on its own shore."""
    rows, cols = np.nonzero(bay_mask())
    tx, ty = centre(rows, cols)
    sx, sy = centre(np.array([20, 20]), np.array([8, 21]))
    land = route_distances("land", "ebike", sx, sy, tx, ty, travel=T, context=bay)
    assert land.reached.all()
    shore = (rows >= 6) & ((cols <= 8) | (cols >= 21))
    assert np.array_equal(land.source[shore], np.where(cols[shore] < 10, 0, 1))
    assert land.minutes == pytest.approx(land.path_m * 1.3 / 250.0)


def test_land_points_in_the_sea_snap_within_one_cell(bay):
    sx, sy = centre(20, 8)
    # 40 m into the bay from the west shore's last land column (9): snaps to it; the middle of the bay: unreachable
    wx, wy = X0 + 10 * CELL + 40.0, Y0 + 20.5 * CELL
    mx, my = centre(20, 15)
    r = route_distances("land", "walk", [sx], [sy], [wx, mx], [wy, my], travel=T, context=bay)
    assert r.path_m[0] == pytest.approx(CELL + 90.0, abs=1e-9)  # one step to (20, 9), then 90 m to the point
    assert r.source.tolist() == [0, -1] and math.isinf(r.minutes[1])
    node, offset = bay.land().locate([wx, mx, X0 - 5 * CELL], [wy, my, Y0])
    assert node[1:].tolist() == [-1, -1] and offset[0] == pytest.approx(90.0)


def test_islands_are_not_reached_from_the_mainland():
    mask = np.zeros((12, 12), dtype=bool)
    mask[:, :5] = True  # the mainland
    mask[4:7, 8:11] = True  # an island 300 m offshore
    ctx = TravelContext(land=LandGrid(mask, X0, Y0, CELL))
    sx, sy = centre(5, 4)
    tx, ty = centre(np.array([5, 5]), np.array([8, 0]))
    r = route_distances("land", "walk", [sx], [sy], tx, ty, travel=T, context=ctx)
    assert r.source.tolist() == [-1, 0] and r.path_m[1] == pytest.approx(4 * CELL)
    straight = route_distances("straight", "walk", [sx], [sy], tx, ty, travel=T, context=ctx)
    assert straight.source.tolist() == [0, 0]


def test_many_points_are_located_once(bay):
    """A demand grid's cells are located once per content (a coverage request re-uses them), read-only."""
    rng = np.random.default_rng(6)
    x, y = rng.uniform(X0, X0 + 3000, 70_000), rng.uniform(Y0, Y0 + 3000, 70_000)
    grid = bay.land()
    first = grid.locate(x, y)
    again = grid.locate(x.copy(), y.copy())
    assert again[0] is first[0] and not first[0].flags.writeable
    moved = x.copy()
    moved[0] += CELL
    assert grid.locate(moved, y)[0] is not first[0]
    small = grid._locate(x[:1000], y[:1000])
    assert np.array_equal(small[0], first[0][:1000]) and np.array_equal(small[1], first[1][:1000])


# --------------------------------------------------------------------------- land: the raster's error


def test_land_in_open_land_overestimates_by_at_most_the_stated_bound():
    """Between cell centres: 1 <= land ÷ straight <= 1 + LAND_OVERESTIMATE (2.75 %), reached near 14° ((4, 1) cells);
    between any points the ratio is never below 1 (the legs to the cell centres are added)."""
    assert abs(LAND_OVERESTIMATE - 0.0275) < 5e-5
    ctx = TravelContext(land=LandGrid(np.ones((40, 40), dtype=bool), X0, Y0, CELL))
    rng = np.random.default_rng(1)
    rows, cols = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
    tx, ty = centre(rows.ravel(), cols.ravel())
    worst = 0.0
    for r0, c0 in [(0, 0), (20, 20), (3, 31), *rng.integers(0, 40, (5, 2)).tolist()]:
        ox, oy = centre(r0, c0)
        path, _ = pair_distances("land", "walk", ox, oy, tx, ty, travel=T, context=ctx)
        straight = np.hypot(tx - ox, ty - oy)
        far = straight > 0
        ratio = path[far] / straight[far]
        assert ratio.min() >= 1.0 - 1e-12
        assert ratio.max() <= 1.0 + LAND_OVERESTIMATE + 1e-12
        worst = max(worst, ratio.max())
    assert worst > 1.027
    ox, oy = centre(20, 20)
    full, _ = pair_distances("land", "walk", ox, oy, tx, ty, travel=T, context=ctx)
    for limit in (5.0, 10.0):  # 308 m, 615 m: searched on a window of the raster around the origin
        near, minutes = pair_distances("land", "walk", ox, oy, tx, ty, travel=T, context=ctx, limit_minutes=limit)
        within = full * 1.3 / 80.0 <= limit
        assert np.array_equal(near[within], full[within]) and np.isinf(near[~within]).all() and within.sum() > 20
    ox, oy = centre(0, 0)
    path, _ = pair_distances("land", "walk", ox, oy, *centre(1, 4), travel=T, context=ctx)
    assert path[0] == pytest.approx(2 * CELL + SQ5 * CELL)  # two steps and a knight move
    px, py = rng.uniform(X0, X0 + 40 * CELL, 300), rng.uniform(Y0, Y0 + 40 * CELL, 300)
    r = route_distances("land", "walk", px[:7], py[:7], px, py, travel=T, context=ctx)
    straight = route_distances("straight", "walk", px[:7], py[:7], px, py, travel=T, context=ctx)
    assert np.all(r.path_m >= straight.path_m - 1e-9)


# --------------------------------------------------------------------------- network: against networkx


def random_city(n: int = 400, seed: int = 0, oneway_share: float = 0.2):
    """Random street graph: nodes over 4 km × 4 km, each joined to its 3 nearest and to the next by x (connected),
    lengths = the straight line × 1-1.5; a share of the streets one way."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    x, y = X0 + rng.uniform(0, 4000, n), Y0 + rng.uniform(0, 4000, n)
    _, nb = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=4)
    a = np.concatenate([np.repeat(np.arange(n), 3), np.argsort(x)[:-1]])
    b = np.concatenate([nb[:, 1:].ravel(), np.argsort(x)[1:]])
    length = np.hypot(x[a] - x[b], y[a] - y[b]) * rng.uniform(1.0, 1.5, len(a))
    oneway = rng.random(len(a)) < oneway_share
    src = np.concatenate([a, b[~oneway]])
    dst = np.concatenate([b, a[~oneway]])
    return x, y, src, dst, np.concatenate([length, length[~oneway]])


def nx_graph(src, dst, length):
    nx = need_module("networkx")
    g = nx.DiGraph()
    for s, d, w in zip(src.tolist(), dst.tolist(), length.tolist(), strict=True):
        if s != d and (not g.has_edge(s, d) or g[s][d]["w"] > w):
            g.add_edge(s, d, w=w)
    return g


@pytest.fixture(scope="module")
def city():
    x, y, src, dst, length = random_city()
    graph = RoadGraph(x, y, src, dst, length)
    return x, y, graph, nx_graph(src, dst, length), TravelContext(graphs={"walk": graph, "ebike": graph})


def test_network_pairs_equal_networkx(city):
    nx = need_module("networkx")
    x, y, _, g, ctx = city
    rng = np.random.default_rng(2)
    pairs = rng.integers(0, len(x), (200, 2))
    unreachable = 0
    for s, t in pairs.tolist():
        path, minutes = pair_distances("network", "ebike", x[s], y[s], [x[t]], [y[t]], travel=T, context=ctx)
        try:
            want = nx.dijkstra_path_length(g, s, t, weight="w")
        except nx.NetworkXNoPath:
            want = math.inf
            unreachable += 1
        assert path[0] == pytest.approx(want, rel=1e-12, abs=1e-9)
        assert minutes[0] == pytest.approx(want / 250.0, rel=1e-12)  # road metres at 15 km/h, no detour factor
        # a 3-minute limit (750 m): searched on the nodes within 750 m only; the same answer within it
        near, _ = pair_distances("network", "ebike", x[s], y[s], [x[t]], [y[t]], travel=T, context=ctx,
                                 limit_minutes=3.0)
        assert near[0] == (path[0] if want / 250.0 <= 3.0 else math.inf)
    assert unreachable < 200


def test_network_multi_source_equals_networkx(city):
    """Every node's trip to its nearest of 12 stations (on the reversed graph: oneways count the worker's way)."""
    nx = need_module("networkx")
    x, y, _, g, ctx = city
    stations = np.random.default_rng(3).choice(len(x), 12, replace=False)
    r = route_distances("network", "walk", x[stations], y[stations], x, y, travel=T, context=ctx)
    dist, paths = nx.multi_source_dijkstra(g.reverse(copy=True), set(stations.tolist()), weight="w")
    for v in range(len(x)):
        if v in dist:
            assert r.path_m[v] == pytest.approx(dist[v], rel=1e-12, abs=1e-9)
            assert stations[r.source[v]] == paths[v][0]
            assert r.minutes[v] == pytest.approx(dist[v] / 80.0, rel=1e-12)
        else:
            assert r.source[v] == -1 and math.isinf(r.path_m[v])
    graph = ctx.graph("walk")
    direction = graph._direction(True)
    direction.SPARE = 4  # 12 sources do not fit the spare room: the search copies the graph instead; same answer
    try:
        copied = route_distances("network", "walk", x[stations], y[stations], x, y, travel=T, context=ctx)
    finally:
        del direction.SPARE
    assert np.array_equal(copied.path_m, r.path_m) and np.array_equal(copied.source, r.source)
    limited = route_distances("network", "walk", x[stations], y[stations], x, y, travel=T, context=ctx,
                              limit_minutes=10.0)
    within = np.array([dist.get(v, math.inf) / 80.0 <= 10.0 for v in range(len(x))])
    assert np.array_equal(limited.reached, within) and 0 < within.sum() < len(x)


def test_network_snap_legs_are_walked_and_chosen_with_the_route(city):
    """Stations and targets off the nodes: the snap legs at walking speed, the road at e-bike speed; the nearest
    station is the best total (networkx on the graph with a virtual node per station, minutes as weights)."""
    nx = need_module("networkx")
    x, y, graph, g, ctx = city
    rng = np.random.default_rng(4)
    sx, sy = x[:8] + rng.uniform(-60, 60, 8), y[:8] + rng.uniform(-60, 60, 8)
    tx, ty = rng.uniform(X0, X0 + 4000, 300), rng.uniform(Y0, Y0 + 4000, 300)
    snappable = graph.snappable
    nearest = lambda px, py: snappable[np.argmin(np.hypot(x[snappable] - px, y[snappable] - py))]  # noqa: E731
    h = nx.DiGraph()
    h.add_weighted_edges_from((d, s, w["w"] / 250.0) for s, d, w in g.edges(data=True))  # reversed, minutes
    for k in range(8):
        n = nearest(sx[k], sy[k])
        h.add_edge(("station", k), n, weight=math.hypot(x[n] - sx[k], y[n] - sy[k]) / 80.0)
    dist, paths = nx.multi_source_dijkstra(h, {("station", k) for k in range(8)})
    r = route_distances("network", "ebike", sx, sy, tx, ty, travel=T, context=ctx)
    for j in range(len(tx)):
        n = nearest(tx[j], ty[j])
        snap = math.hypot(x[n] - tx[j], y[n] - ty[j])
        if n in dist:
            assert r.minutes[j] == pytest.approx(dist[n] + snap / 80.0, rel=1e-9)
            assert r.source[j] == paths[n][0][1]
            k = r.source[j]
            leg = math.hypot(x[paths[n][1]] - sx[k], y[paths[n][1]] - sy[k])
            road = (dist[n] - leg / 80.0) * 250.0
            assert r.path_m[j] == pytest.approx(road + leg + snap, rel=1e-9)
        else:
            assert r.source[j] == -1


def test_network_snap_cap():
    x, y = np.array([X0, X0 + 300.0]), np.array([Y0, Y0])
    graph = RoadGraph(x, y, np.array([0, 1]), np.array([1, 0]), np.array([300.0, 300.0]))
    ctx = TravelContext(graphs={"walk": graph})
    ty = Y0 + np.array([499.0, SNAP_CAP_M, 501.0])
    r = route_distances("network", "walk", [X0], [Y0], np.full(3, X0 + 300.0), ty, travel=T, context=ctx)
    assert r.source.tolist() == [0, 0, -1]
    assert r.path_m[:2].tolist() == pytest.approx([300.0 + 499.0, 300.0 + SNAP_CAP_M])
    far = route_distances("network", "walk", [X0 - 600.0], [Y0], [X0], [Y0], travel=T, context=ctx)
    assert far.source.tolist() == [-1]  # a station beyond the cap reaches nothing


def test_network_oneway_is_respected():
    """A one-way street 0 -> 1 (100 m) and the way back round the block 1 -> 2 -> 0 (400 m + 400 m)."""
    x, y = X0 + np.array([0.0, 100.0, 50.0]), Y0 + np.array([0.0, 0.0, 380.0])
    graph = RoadGraph(x, y, np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([100.0, 400.0, 400.0]))
    ctx = TravelContext(graphs={"ebike": graph})
    there, _ = pair_distances("network", "ebike", x[0], y[0], [x[1]], [y[1]], travel=T, context=ctx)
    back, minutes = pair_distances("network", "ebike", x[1], y[1], [x[0]], [y[0]], travel=T, context=ctx)
    assert there.tolist() == [100.0] and back.tolist() == [800.0] and minutes[0] == pytest.approx(800.0 / 250.0)
    # a worker at node 0 rides to a station at node 1 (100 m); one at node 1 to a station at node 0 goes round
    r = route_distances("network", "ebike", [x[1], x[0]], [y[1], y[0]], [x[0], x[1]], [y[0], y[1]], travel=T,
                        context=ctx)
    assert r.path_m.tolist() == [0.0, 0.0]
    r = route_distances("network", "ebike", [x[1]], [y[1]], [x[0]], [y[0]], travel=T, context=ctx)
    assert r.path_m.tolist() == [100.0]
    r = route_distances("network", "ebike", [x[0]], [y[0]], [x[1]], [y[1]], travel=T, context=ctx)
    assert r.path_m.tolist() == [800.0]


def test_stray_fragments_are_not_snapped_to():
    """A fragment smaller than MIN_COMPONENT_NODES beside the main network: points snap past it."""
    n = MIN_COMPONENT_NODES
    x = np.concatenate([X0 + np.arange(n) * 50.0, [X0 + 25.0, X0 + 35.0]])
    y = np.concatenate([np.full(n, Y0), [Y0 + 200.0, Y0 + 200.0]])
    src, dst = np.r_[np.arange(n - 1), np.arange(1, n), n], np.r_[np.arange(1, n), np.arange(n - 1), n + 1]
    graph = RoadGraph(x, y, src, dst, np.full(len(src), 50.0))
    node, snap = graph.snap([X0 + 25.0], [Y0 + 190.0])
    assert node[0] < n and snap[0] == pytest.approx(math.hypot(25.0, 190.0))


# --------------------------------------------------------------------------- context


def test_network_without_an_extract_is_a_400_naming_travel(tmp_path):
    ctx = TravelContext.for_settings(Settings(data_dir=tmp_path))
    assert not ctx.available("network") and ctx.available("straight") and ctx.available("land")
    with pytest.raises(ParameterError) as err:
        route_distances("network", "walk", [X0], [Y0], [X0], [Y0], travel=T, context=ctx)
    assert err.value.status == 400 and err.value.parameter == "travel"
    assert "workermap osm import" in err.value.message
    with pytest.raises(ParameterError) as err:
        pair_distances("bus", "walk", X0, Y0, [X0], [Y0], travel=T, context=ctx)
    assert err.value.parameter == "travel" and all(m in err.value.message for m in TRAVEL_MODELS)
    with pytest.raises(ParameterError) as err:
        route_distances("straight", "car", [X0], [Y0], [X0], [Y0], travel=T, context=ctx)
    assert err.value.parameter == "mode"


def test_context_reads_an_import_and_describes_it(tmp_path):
    """graph_{mode}.npz and provenance.json as the OSM import writes them (WGS84 nodes, directed edges)."""
    osm = tmp_path / "osm"
    osm.mkdir()
    lon, lat = to_lonlat(X0 + np.array([0.0, 400.0]), np.array([Y0, Y0]))
    np.savez(osm / "graph_walk.npz", node_lon=np.asarray(lon), node_lat=np.asarray(lat),
             src=np.array([0, 1], dtype=np.int32), dst=np.array([1, 0], dtype=np.int32),
             length_m=np.array([400.0, 400.0]))
    prov = {"file": "qingdao.osm.pbf", "osm_timestamp": "2026-11-01T00:00:00Z",
            "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
            "licence_url": "https://www.openstreetmap.org/copyright"}
    (osm / "provenance.json").write_text(json.dumps(prov), encoding="utf-8")
    settings = Settings(data_dir=tmp_path)
    ctx = TravelContext.for_settings(settings)
    assert ctx is TravelContext.for_settings(settings)  # once per process
    assert ctx.available("network", "walk") and not ctx.available("network", "ebike")
    assert ctx.graph("walk") is ctx.graph("walk")
    r = route_distances("network", "walk", [X0], [Y0], [X0 + 400.0], [Y0 + 30.0], travel=T, context=ctx)
    assert r.path_m[0] == pytest.approx(430.0, abs=0.05)  # the graph's 400 m and the 30 m snap leg
    d = ctx.describe("network", "walk")
    assert d["osm"] == prov and d["snap_cap_m"] == SNAP_CAP_M and "detour_factor" not in d
    assert ctx.describe("land", "ebike")["land_cell_m"] == 100 and ctx.describe("straight", None)["speed_kmh"] is None
    with pytest.raises(ParameterError):
        ctx.graph("ebike")


def test_shipped_land_keeps_jiaozhou_bay(tmp_path):
    """The shipped district polygons: from 黄岛 (west shore) to 市南 (east shore) the straight line crosses the bay's
    mouth; by land the way round the bay is several times longer."""
    ctx = TravelContext.for_settings(Settings(data_dir=tmp_path))
    (hx, sx_), (hy, sy_) = to_metric(np.array([120.195, 120.315]), np.array([35.965, 36.065]))
    path, minutes = pair_distances("land", "ebike", hx, hy, [sx_], [sy_], travel=T, context=ctx)
    straight = math.hypot(sx_ - hx, sy_ - hy)
    assert path[0] > 3 * straight and minutes[0] == pytest.approx(path[0] * 1.3 / 250.0)


# --------------------------------------------------------------------------- straight: today's numbers


def test_straight_equals_todays_numbers():
    _, index = shipped_sample()
    sites = Sites(index, index.eligible(kinds=("station",)))
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(120.2, 120.6, 2000), rng.uniform(36.0, 36.35, 2000)
    x, y = (np.asarray(v) for v in to_metric(lon, lat))
    dist, pos = nearest_sites(sites, x, y, lon, lat, 1e9)  # no cell near a 1e9 m threshold: planar throughout
    for mode, kmh in (("walk", T.walk_kmh), ("ebike", T.ebike_kmh)):
        r = route_distances("straight", mode, sites.x, sites.y, x, y, travel=T, context=TravelContext())
        assert np.array_equal(r.path_m, dist) and np.array_equal(r.source, pos)
        assert np.array_equal(r.minutes, T.minutes(dist, kmh))
    walk = route_distances("straight", "walk", sites.x, sites.y, x, y, travel=T, context=TravelContext(),
                           limit_minutes=15)
    assert np.array_equal(walk.reached, dist <= T.radius_m(15, "walk"))
