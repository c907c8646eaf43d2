"""Capacity-aware access: the enhanced two-step floating catchment area (E2SFCA) on the demand grid.

Coverage (:mod:`geo.coverage`) asks whether a facility is within reach; access asks how many *places* (seats,
beds, the registry's ``capacity``) each person in reach shares with everyone else in reach. Luo & Qi (2009):

1. for every eligible facility *j* with ``S_j`` places, the weighted demand in its catchment
   ``D_j = Σ_k P_k · W(d_kj)`` and its ratio ``R_j = S_j / D_j`` (places per person; 0 where no demand is in reach);
2. for every demand cell *i*, its access ``A_i = Σ_j R_j · W(d_ij)``: places per person (× 1000 in the answers:
   ``places_per_1000``); ``demand_per_place`` = 1 / A_i.

Inputs, stated in every answer (:meth:`Access.assumptions`)
    Demand ``P``: workers or residents per cell of the demand grid (:mod:`geo.demand`, modelled unless imported).
    Supply ``S``: the capacity of each eligible facility (the coverage filters choose them). A facility without a
    capacity counts as the median capacity of its kind among the registry's facilities that have one (1 when none
    of its kind has one): :func:`facility_places`. Distance ``d``: the straight line between the cell centre and
    the facility in EPSG:4549 metres × the detour factor (route metres). Catchment: the coverage threshold, as
    route metres (minutes × speed, or threshold_m × detour factor); a cell is in a facility's catchment when its
    straight-line distance is at most the threshold (exactly on it counts, as in coverage).

Distance decay ``W`` (:func:`decay_weights`; 0 beyond the catchment)
    ``gaussian`` (default): exp(−d² / 2σ²) with σ = half the catchment (1 at the facility, 0.135 at the edge);
    ``step``: 1, 0.68 and 0.22 over the catchment's thirds (Luo & Qi's zone weights); ``none``: 1 (plain 2SFCA).

Two properties the tests check: the demand-weighted sum of access equals the places of the facilities that have
demand in reach (Σ_i P_i A_i = Σ_j S_j), and the values equal PySAL ``access``'s E2SFCA on the same inputs.

Shortage (:meth:`Access.shortage_areas`)
    A cell with demand is *short* when its demand per place exceeds ``max_demand_per_place`` (default: twice the
    city's demand in reach per place, Σ P_in_reach / Σ S). Edge-connected short cells of one district form an
    area; ``places_needed`` = Σ P / threshold − Σ P·A (the places that would bring the area to the threshold),
    ranked largest first. Cells beyond every catchment have no access at all: those are coverage gaps
    (``/api/v1/gaps``), counted here as ``demand_no_access``.

>>> import numpy as np
>>> ratio, reach, access = e2sfca(np.array([10.0, 30.0]), np.array([4.0]), np.array([0, 0]), np.array([0, 1]),
...                               np.array([1.0, 0.5]), 2)
>>> ratio.tolist(), reach.tolist(), access.tolist()  # D = 10·1 + 30·0.5 = 25; R = 4/25; A = R·W
([0.16], [25.0], [0.16, 0.08])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely

from geo.coverage import (
    FacilityFilter,
    PreparedGrid,
    Sites,
    Threshold,
    disc_pairs,
    route_pairs,
)
from geo.errors import ParameterError, Unprocessable
from geo.nearest import FacilityIndex
from geo.overlay import Overlay, encode_png, overlay_bounds, resample
from geo.params import Params
from geo.planner import PlannerData, PlannerOptions, csv_bytes, from_values, scope_of
from geo.planner_params import DECAYS, DEMANDS, MAX_ACCESS_PAIRS

__all__ = ["ACCESS_CLASSES", "Access", "AccessOptions", "AccessTooLarge", "ShortageArea", "access_grid",
           "access_options", "access_payload", "catchment_pairs", "cells_csv", "compute_access", "decay_weights",
           "e2sfca", "facility_places", "run_access", "shortage_collection"]

#: Luo & Qi (2009): the weights of the catchment's three zones (upper edge as a share of the catchment, weight).
STEP_ZONES = ((1 / 3, 1.0), (2 / 3, 0.68), (1.0, 0.22))
#: σ of the Gaussian decay as a share of the catchment.
GAUSSIAN_SIGMA = 0.5
DECAY_RULES = {
    "gaussian": "W = exp(-d²/2σ²), σ = half the catchment (1 at the facility, 0.135 at its edge); 0 beyond it",
    "step": "W = 1 within the first third of the catchment, 0.68 in the second, 0.22 in the last (Luo & Qi 2009); "
            "0 beyond it",
    "none": "W = 1 within the catchment, 0 beyond it (plain 2SFCA)",
}
METHOD = ("E2SFCA (Luo & Qi 2009): R_j = S_j / Σ_k P_k·W(d_kj) for each facility; A_i = Σ_j R_j·W(d_ij) for each "
          "cell, in places per person (× 1000: places_per_1000; demand_per_place = 1/A_i)")
CAPACITY_RULE = ("supply = the facility's capacity (seats, beds, places); a facility without one counts as the median "
                 "capacity of its kind among the registry's facilities that have one (1 if none of its kind has one)")
DISTANCE_RULE = "straight line between cell centre and facility in EPSG:4549 metres × detour_factor (route metres)"
#: (key, label, RGBA) of the access overlay's classes, by demand per place against the shortage threshold.
ACCESS_CLASSES: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("none", "no land cell, or no demand", (0, 0, 0, 0)),
    ("ample", "demand per place at most half the shortage threshold", (26, 152, 80, 170)),
    ("adequate", "demand per place from half to the full threshold", (145, 207, 96, 170)),
    ("shortage", "demand per place 1–2 × the threshold", (252, 141, 89, 170)),
    ("severe", "demand per place beyond 2 × the threshold", (215, 48, 39, 170)),
    ("no_access", "no eligible facility within the catchment", (110, 110, 110, 150)),
)


class AccessTooLarge(Unprocessable):
    """The catchment reaches too many cells for one computation (a 422 saying how to make it smaller)."""

    code = "access_too_large"


# --------------------------------------------------------------------------- the formula


def decay_weights(ratio: np.ndarray, decay: str) -> np.ndarray:
    """W for distances given as a share of the catchment (``ratio`` = d / catchment, ≤ 1 inside it).

    >>> decay_weights(np.array([0.0, 0.3, 0.5, 0.9, 1.0, 1.2]), "step").tolist()
    [1.0, 1.0, 0.68, 0.22, 0.22, 0.0]
    >>> [round(w, 4) for w in decay_weights(np.array([0.0, 0.5, 1.0]), "gaussian").tolist()]
    [1.0, 0.6065, 0.1353]
    """
    ratio = np.asarray(ratio, dtype="float64")
    inside = ratio <= 1.0
    if decay == "gaussian":
        w = np.exp(-0.5 * (ratio / GAUSSIAN_SIGMA) ** 2)
    elif decay == "step":
        w = np.select([ratio <= edge for edge, _ in STEP_ZONES], [weight for _, weight in STEP_ZONES], 0.0)
    elif decay == "none":
        w = np.ones_like(ratio)
    else:
        raise ParameterError("decay", decay, f"one of {', '.join(DECAYS)}")
    return np.where(inside, w, 0.0)


def e2sfca(demand: np.ndarray, places: np.ndarray, site: np.ndarray, cell: np.ndarray, weight: np.ndarray,
           n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two steps on catchment pairs (``site[k]``, ``cell[k]``, ``weight[k]``): returns (R_j per site, D_j per
    site, A_i per cell). A site with no demand in reach has R_j = 0 (its places serve nobody counted)."""
    reach = np.bincount(site, weights=demand[cell] * weight, minlength=len(places))
    ratio = np.divide(places, reach, out=np.zeros(len(places)), where=reach > 0)
    access = np.bincount(cell, weights=ratio[site] * weight, minlength=n_cells)
    return ratio, reach, access


def facility_places(facilities, every=None) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Places of each facility of ``facilities``: its capacity, else the median capacity of its kind among
    ``every`` (default: the same facilities) that have one, else 1. Returns (places, imputed mask, the value used
    per kind where one was imputed).

    >>> from geo.model import Facility
    >>> fs = [Facility(str(i), "station", "s", 120.4, 36.1, "370202", "市南区", capacity=c) for i, c in
    ...       enumerate([10, 20, None, 30])]
    >>> places, imputed, used = facility_places(fs)
    >>> places.tolist(), imputed.tolist(), used
    ([10.0, 20.0, 20.0, 30.0], [False, False, True, False], {'station': 20})
    """
    every = facilities if every is None else every
    by_kind: dict[str, list[int]] = {}
    for f in every:
        if f.capacity is not None:
            by_kind.setdefault(f.kind, []).append(f.capacity)
    medians = {k: int(round(float(np.median(v)))) for k, v in by_kind.items()}
    places = np.empty(len(facilities))
    imputed = np.zeros(len(facilities), dtype=bool)
    used: dict[str, int] = {}
    for n, f in enumerate(facilities):
        if f.capacity is not None:
            places[n] = f.capacity
            continue
        imputed[n] = True
        places[n] = used[f.kind] = max(1, medians.get(f.kind, 1))
    return places, imputed, used


def catchment_pairs(prepared: PreparedGrid, x: np.ndarray, y: np.ndarray, radius_m: float,
                    max_pairs: int = MAX_ACCESS_PAIRS, *, parameter: str = "threshold_m"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (site, cell, planar distance m) with the cell centre at most ``radius_m`` from the site (EPSG:4549
    points ``x``, ``y``): the raster offsets of a disc around each site, looked up in the grid's raster.

    A :class:`AccessTooLarge` when the discs could hold more than ``max_pairs`` cells in all."""
    found = disc_pairs(prepared, x, y, radius_m, max_pairs)
    if found is None:
        raise AccessTooLarge(
            f"a catchment of {radius_m:,.0f} m around {len(x)} facilities reaches more than {max_pairs:,} cells; "
            "choose a shorter catchment (fewer minutes, a smaller threshold) or fewer facilities",
            parameter=parameter, value=round(radius_m), allowed=f"a catchment reaching at most {max_pairs:,} cells")
    return found


# --------------------------------------------------------------------------- the answer


@dataclass(frozen=True, eq=False)
class ShortageArea:
    """Edge-connected short cells of one district, with the places they lack."""

    rank: int
    adcode: str
    district: str
    place: str | None
    cells: int
    area_km2: float
    demand: float
    accessible_places: float
    places_needed: int
    demand_per_place: float | None
    lon: float  # the centre of its cell with the most demand
    lat: float
    facility: dict | None  # the facility whose places the area uses most: where to add places
    geometry: Any  # shapely, WGS84

    def properties(self) -> dict:
        return {"rank": self.rank, "district": self.district, "adcode": self.adcode, "place": self.place,
                "cells": self.cells, "area_km2": self.area_km2, "demand": self.demand,
                "accessible_places": self.accessible_places, "demand_per_place": self.demand_per_place,
                "places_needed": self.places_needed, "lon": self.lon, "lat": self.lat, "facility": self.facility}


@dataclass(eq=False)
class Access:
    """E2SFCA for one catchment, facility set, demand and decay: per site, per cell, and tables on demand."""

    prepared: PreparedGrid
    threshold: Threshold
    sites: Sites
    demand_name: str
    decay: str
    places: np.ndarray  # S_j
    imputed: np.ndarray  # whether S_j was imputed
    imputed_places: dict[str, int]
    pair_site: np.ndarray
    pair_cell: np.ndarray
    pair_distance_m: np.ndarray  # planar
    weight: np.ndarray
    ratio: np.ndarray  # R_j
    reach: np.ndarray  # D_j
    index: np.ndarray  # A_i
    facility_filter: FacilityFilter | None = None
    _tables: dict = field(default_factory=dict, repr=False)

    # -- the inputs, in words -----------------------------------------------------------------
    @property
    def catchment_m(self) -> float:
        """The catchment in route metres (the threshold's straight line × the detour factor)."""
        return self.threshold.radius_m * self.threshold.travel.detour_factor

    @property
    def demand(self) -> np.ndarray:
        return self.prepared.demand(self.demand_name)

    @cached_property
    def in_reach(self) -> np.ndarray:
        """Cells with at least one eligible facility in their catchment."""
        out = np.zeros(len(self.prepared), dtype=bool)
        out[self.pair_cell] = True
        return out

    @cached_property
    def site_adcodes(self) -> np.ndarray:
        """The district of each site: a registry facility's own, an added point's by its cell ("" off the grid)."""
        p, s = self.prepared, self.sites
        out = [s.index.facilities[int(i)].district_adcode for i in s.idx]
        if len(s.extra_lon):
            at = p.locate_cells(*s.extra_xy)
            out += [p.adcodes[p.code[c]] if c >= 0 else "" for c in at]
        return np.array(out, dtype=object)

    @cached_property
    def city_demand_per_place(self) -> float | None:
        """Demand in reach per place (Σ P_in_reach / Σ S of the facilities with demand in reach)."""
        supply = float(self.places[self.reach > 0].sum())
        return None if supply <= 0 else float(self.demand[self.in_reach].sum()) / supply

    def default_max_demand_per_place(self) -> float | None:
        c = self.city_demand_per_place
        return None if c is None else round(2 * c, 1)

    def assumptions(self, max_demand_per_place: float | None = None) -> dict:
        from geo.coverage import assumptions

        out = assumptions(self.threshold, self.prepared, self.facility_filter)
        given = max_demand_per_place is not None
        threshold = max_demand_per_place if given else self.default_max_demand_per_place()
        city = self.city_demand_per_place
        out.update({
            "eligible_facilities": len(self.sites), "method": METHOD, "demand": self.demand_name,
            "decay": self.decay, "decay_rule": DECAY_RULES[self.decay], "catchment_m": round(self.catchment_m, 1),
            "catchment_rule": "the coverage threshold as route metres: a cell is in a facility's catchment when its "
                              "straight-line distance is at most threshold_m" if not self.threshold.routed else
                              f"the coverage threshold by route ({self.threshold.model}): a cell is in a facility's "
                              "catchment when its route takes at most minutes (threshold_m: is at most that long)",
            "access_distance": DISTANCE_RULE if not self.threshold.routed else
                               f"the route ({self.threshold.model}) from the cell centre to the facility; the decay "
                               "weighs its share of the threshold (minutes, or metres with threshold_m)",
            "capacity_rule": CAPACITY_RULE,
            "capacity_imputed": int(self.imputed.sum()), "imputed_places": dict(self.imputed_places),
            "places": round(float(self.places.sum()), 1),
            "city_demand_per_place": None if city is None else round(city, 1),
            "max_demand_per_place": threshold,
            "max_demand_per_place_rule": "given" if given else "twice the city's demand in reach per place",
        })
        return out

    # -- tables ---------------------------------------------------------------------------------
    def short(self, max_demand_per_place: float) -> np.ndarray:
        """Cells with demand whose demand per place exceeds the threshold (A_i > 0 and 1/A_i > threshold)."""
        a = self.index
        return (self.demand > 0) & (a > 0) & (a * max_demand_per_place < 1.0)

    def _row(self, adcode: str, name: str, sel: np.ndarray | None, short: np.ndarray, threshold: float) -> dict:
        p = self.prepared
        take = (lambda v: v) if sel is None else (lambda v: v[sel])
        demand, a, reach, sh = take(self.demand), take(self.index), take(self.in_reach), take(short)
        cells = len(demand)
        total = float(demand.sum())
        accessible = float((demand * a).sum())
        in_reach = float(demand[reach].sum())
        short_demand = float(demand[sh].sum())
        needed = float((demand[sh] / threshold - demand[sh] * a[sh]).sum())
        located = self.places if sel is None else self.places[self.site_adcodes == adcode]
        return {
            "adcode": adcode, "name": name, "cells": cells, "area_km2": round(cells * p.grid.cell_area_km2, 3),
            "demand": round(total, 1), "demand_in_reach": round(in_reach, 1),
            "demand_no_access": round(total - in_reach, 1), "places": round(float(located.sum()), 1),
            "accessible_places": round(accessible, 2),
            "places_per_1000": None if total <= 0 else round(1000 * accessible / total, 3),
            "demand_per_place": None if accessible <= 0 else round(in_reach / accessible, 1),
            "shortage_cells": int(sh.sum()), "shortage_demand": round(short_demand, 1),
            "shortage_pct": None if total <= 0 else round(100 * short_demand / total, 2),
            "places_needed": int(math.ceil(needed - 1e-9)) if needed > 0 else 0,
        }

    def city_row(self, max_demand_per_place: float) -> dict:
        return self._row(*self.prepared.scope, None, self.short(max_demand_per_place), max_demand_per_place)

    def district_table(self, max_demand_per_place: float, district: str | None = None) -> list[dict]:
        """One row per district (or only ``district``), by adcode."""
        p = self.prepared
        code = p.district_code(district)
        short = self.short(max_demand_per_place)
        return [self._row(adcode, name, p.code == k, short, max_demand_per_place)
                for k, (adcode, name) in enumerate(zip(p.adcodes, p.names, strict=True))
                if code is None or k == code]

    def facility_table(self, district: str | None = None) -> list[dict]:
        """Each eligible facility: places (imputed or not), weighted demand in reach, demand per place there."""
        code = self.prepared.district_code(district)
        rows = []
        for k in range(len(self.sites)):
            if code is not None and self.site_adcodes[k] != self.prepared.adcodes[code]:
                continue
            reach, places = float(self.reach[k]), float(self.places[k])
            rows.append({**self.sites.describe(k), "lon": round(float(self.sites.lon[k]), 6),
                         "lat": round(float(self.sites.lat[k]), 6), "places": places,
                         "places_imputed": bool(self.imputed[k]), "demand_in_reach": round(reach, 1),
                         "demand_per_place": round(reach / places, 1) if places > 0 else None,
                         "places_per_1000": round(1000 * float(self.ratio[k]), 3)})
        rows.sort(key=lambda r: (-(r["demand_per_place"] or 0), r["id"]))
        return rows

    # -- shortage areas ---------------------------------------------------------------------------
    def shortage_areas(self, max_demand_per_place: float, *, district: str | None = None, limit: int | None = 20,
                       places=None) -> list[ShortageArea]:
        """Short cells in edge-connected areas (one district each), most places needed first (``limit`` of them).

        ``places``: a :class:`geo.gaps.Places` naming each area after its nearest township or town."""
        from geo.gaps import _label

        p, g = self.prepared, self.prepared.grid
        short = self.short(max_demand_per_place)
        mask = p.cell_mask(district)
        cells = np.flatnonzero(short if mask is None else short & mask)
        if len(cells) == 0:
            return []
        labels, n = _label(p, cells, p.code[cells])
        demand, a = self.demand[cells], self.index[cells]
        need = np.bincount(labels, weights=demand / max_demand_per_place - demand * a, minlength=n + 1)[1:]
        tot = np.bincount(labels, weights=demand, minlength=n + 1)[1:]
        acc = np.bincount(labels, weights=demand * a, minlength=n + 1)[1:]
        count = np.bincount(labels, minlength=n + 1)[1:]
        code = np.zeros(n, dtype=np.int64)
        code[labels - 1] = p.code[cells]
        order = np.lexsort((code, -count, -np.round(need, 6)))
        chosen = order if limit is None else order[:limit]
        geoms = _area_polygons(p, cells, labels, chosen)
        suppliers = self._suppliers(cells, labels)
        out = []
        for rank, (lab0, geom) in enumerate(zip(chosen, geoms, strict=True), start=1):
            mine = cells[labels == lab0 + 1]
            top = mine[np.argmax(self.demand[mine])]
            k = int(code[lab0])
            place = None
            if places is not None:
                place, _ = places.nearest(p.adcodes[k], float(g.x[top]), float(g.y[top]))
            out.append(ShortageArea(
                rank, p.adcodes[k], p.names[k], place, int(count[lab0]), round(int(count[lab0]) * g.cell_area_km2, 4),
                round(float(tot[lab0]), 1), round(float(acc[lab0]), 3), int(math.ceil(float(need[lab0]) - 1e-9)),
                round(float(tot[lab0] / acc[lab0]), 1), round(float(g.lon[top]), 6), round(float(g.lat[top]), 6),
                suppliers.get(int(lab0) + 1), geom))
        return out

    def _suppliers(self, cells: np.ndarray, labels: np.ndarray) -> dict[int, dict]:
        """For each area label: the facility supplying most of its accessible places (Σ P_i R_j W_ij)."""
        area_of = np.zeros(len(self.prepared), dtype=np.int64)
        area_of[cells] = labels
        lab = area_of[self.pair_cell]
        inside = lab > 0
        if not inside.any():
            return {}
        s, c, lab = self.pair_site[inside], self.pair_cell[inside], lab[inside]
        share = self.demand[c] * self.ratio[s] * self.weight[inside]
        dist = self.pair_distance_m[inside]
        key = lab.astype(np.int64) * (len(self.sites) + 1) + s
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv, weights=share)
        nearest = np.full(len(uniq), np.inf)
        np.minimum.at(nearest, inv, dist)
        ulab, usite = uniq // (len(self.sites) + 1), uniq % (len(self.sites) + 1)
        out: dict[int, dict] = {}
        for n in np.lexsort((-total, ulab)):  # per label, the largest share first
            a = int(ulab[n])
            if a in out:
                continue
            k = int(usite[n])
            d = self.sites.describe(k)
            out[a] = {"id": d["id"], "name": d["name"], "kind": d["kind"], "places": float(self.places[k]),
                      "places_imputed": bool(self.imputed[k]),
                      "distance_m": round(float(nearest[n]) * self.threshold.travel.detour_factor, 1),
                      "lon": round(float(self.sites.lon[k]), 6), "lat": round(float(self.sites.lat[k]), 6)}
        return out

    # -- cells ----------------------------------------------------------------------------------
    def cell_classes(self, max_demand_per_place: float) -> np.ndarray:
        """Class 0–5 of each cell (:data:`ACCESS_CLASSES`)."""
        a, demand = self.index, self.demand
        dpp = np.divide(1.0, a, out=np.full(len(a), np.inf), where=a > 0)
        t = max_demand_per_place
        out = np.select([dpp <= 0.5 * t, dpp <= t, dpp <= 2 * t, np.isfinite(dpp)], [1, 2, 3, 4], 5).astype(np.uint8)
        out[demand <= 0] = 0
        return out

    def legend(self, max_demand_per_place: float) -> list[dict]:
        t = max_demand_per_place
        ranges = [(0.0, 0.5 * t), (0.5 * t, t), (t, 2 * t), (2 * t, None), (None, None)]
        return [{"class": k, "key": key, "label": label, "color": "#{:02x}{:02x}{:02x}".format(*rgba[:3]),
                 "opacity": round(rgba[3] / 255, 2),
                 "from_demand_per_place": None if lo is None else round(lo, 1),
                 "to_demand_per_place": None if hi is None else round(hi, 1)}
                for k, ((key, label, rgba), (lo, hi)) in enumerate(zip(ACCESS_CLASSES[1:], ranges, strict=True),
                                                                    start=1)]

    def overlay(self, max_demand_per_place: float, *, district: str | None = None) -> Overlay:
        """The cells' classes as a PNG for ``L.imageOverlay`` (the city, or one district with its own bounds)."""
        mask = self.prepared.cell_mask(district)
        cells = None if mask is None else np.flatnonzero(mask)
        image, bounds = resample(self.prepared, self.cell_classes(max_demand_per_place), cells=cells)
        text = {"Title": "workermap E2SFCA access grid", "Software": "workermap",
                "Description": f"catchment {self.threshold.label}; decay {self.decay}; demand {self.demand_name} "
                               f"({self.prepared.source}); shortage above {max_demand_per_place:g} per place; "
                               f"bounds S,W,N,E {bounds[0][0]},{bounds[0][1]},{bounds[1][0]},{bounds[1][1]}"}
        return Overlay(encode_png(image, [c[2] for c in ACCESS_CLASSES], text), bounds, image.shape[1],
                       image.shape[0])

    def bounds(self, district: str | None = None):
        mask = self.prepared.cell_mask(district)
        return overlay_bounds(self.prepared, None if mask is None else np.flatnonzero(mask))

    def cell_rows(self, district: str | None = None) -> dict[str, np.ndarray]:
        """Per cell (of the district, if given) as columns: position, demand, access."""
        p, g = self.prepared, self.prepared.grid
        mask = p.cell_mask(district)
        sel = np.arange(len(p)) if mask is None else np.flatnonzero(mask)
        a = self.index[sel]
        return {"adcode": np.asarray(g.adcode)[sel], "lon": np.round(g.lon[sel], 6), "lat": np.round(g.lat[sel], 6),
                "x_m": g.x[sel], "y_m": g.y[sel], "demand": self.demand[sel],
                "places_per_1000": np.round(1000 * a, 4),
                "demand_per_place": np.where(a > 0, np.round(np.divide(1.0, a, out=np.zeros_like(a), where=a > 0),
                                                             2), np.nan)}


def _area_polygons(prepared: PreparedGrid, cells: np.ndarray, labels: np.ndarray, chosen: np.ndarray) -> list:
    """WGS84 polygons of the labelled areas ``chosen`` (0-based labels) from their cell edges (``geo.gaps``)."""
    from geo.gaps import _DENSIFY_M, _boundaries, _polygon, _to_lonlat_coords

    keep = np.zeros(labels.max() + 1, dtype=bool)
    keep[chosen + 1] = True
    sel = keep[labels]
    seg_label, segments = _boundaries(prepared, prepared.row[cells[sel]], prepared.col[cells[sel]], labels[sel])
    order = np.argsort(seg_label, kind="stable")
    seg_label, segments = seg_label[order], segments[order]
    lo = np.searchsorted(seg_label, chosen + 1, side="left")
    hi = np.searchsorted(seg_label, chosen + 1, side="right")
    return [shapely.transform(shapely.segmentize(_polygon(segments[a:b]), _DENSIFY_M), _to_lonlat_coords)
            for a, b in zip(lo, hi, strict=True)]


def compute_access(prepared: PreparedGrid, index: FacilityIndex, threshold: Threshold, *,
                   facility_filter: FacilityFilter | None = None, demand: str = "workers",
                   decay: str = "gaussian") -> Access:
    """E2SFCA over every cell of ``prepared`` for the facilities passing ``facility_filter`` (default: open
    worker stations at any hour), their catchment ``threshold``."""
    if demand not in DEMANDS:
        raise ParameterError("demand", demand, f"one of {', '.join(DEMANDS)}")
    if decay not in DECAYS:
        raise ParameterError("decay", decay, f"one of {', '.join(DECAYS)}")
    facility_filter = facility_filter if facility_filter is not None else FacilityFilter()
    sites = Sites(index, facility_filter.indices(index))
    facilities = [index.facilities[int(i)] for i in sites.idx]
    places, imputed, used = facility_places(facilities, index.facilities)
    parameter = "minutes" if threshold.mode else "threshold_m"
    if threshold.routed:  # the routes within the threshold; the decay over their share of it
        site, cell, dist, share = _route_catchments(prepared, sites, threshold, parameter)
    else:
        site, cell, dist = catchment_pairs(prepared, sites.x, sites.y, threshold.radius_m, parameter=parameter)
        detour = threshold.travel.detour_factor
        share = dist * detour / (threshold.radius_m * detour)
    weight = decay_weights(share, decay)
    ratio, reach, a = e2sfca(prepared.demand(demand), places, site, cell, weight, len(prepared))
    return Access(prepared, threshold, sites, demand, decay, places, imputed, used, site, cell, dist, weight, ratio,
                  reach, a, facility_filter)


def _route_catchments(prepared: PreparedGrid, sites: Sites, threshold: Threshold, parameter: str):
    """(site, cell, route metres, share of the threshold) of every route within the threshold (land/network)."""
    found = route_pairs(prepared, sites.x, sites.y, threshold, MAX_ACCESS_PAIRS)
    if found is None:
        catchment_pairs(prepared, sites.x, sites.y, threshold.straight_reach_m(threshold.limit_minutes()),
                        parameter=parameter)  # raises AccessTooLarge, saying how large
        raise AssertionError("unreachable")
    site, cell, path_m, minutes = found
    keep = threshold.within(path_m, minutes)
    site, cell, path_m, minutes = site[keep], cell[keep], path_m[keep], minutes[keep]
    share = minutes / threshold.minutes if threshold.minutes is not None else path_m / threshold.radius_m
    return site, cell, path_m, share


def shortage_collection(areas: list[ShortageArea]) -> dict:
    """The shortage areas as an RFC 7946 FeatureCollection (WGS84 polygons)."""
    from geo.gaps import _rounded

    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "id": s.rank, "properties": s.properties(),
                          "geometry": _rounded(s.geometry)} for s in areas]}


# --------------------------------------------------------------------------- answers (API and CLI alike)


@dataclass(frozen=True)
class AccessOptions:
    """The planner's options (catchment, facility filter, district, demand, limit) and access's own."""

    planner: PlannerOptions
    decay: str = "gaussian"
    max_demand_per_place: float | None = None

    def threshold_for(self, acc: Access) -> float:
        """The shortage threshold: as given, else twice the city's demand in reach per place (1 if no supply)."""
        return self.max_demand_per_place or acc.default_max_demand_per_place() or 1.0


def access_options(data: PlannerData, params: Params, args, *, check_unknown: bool = True) -> AccessOptions:
    """Parse ``args`` with ``params`` (``geo.planner_params.ACCESS`` or a set containing it)."""
    values = params.parse(args, check_unknown=check_unknown)
    return AccessOptions(from_values(data, values), values.get("decay") or "gaussian",
                         values.get("max_demand_per_place"))


def run_access(data: PlannerData, opts: AccessOptions) -> Access:
    """The E2SFCA for the options (computed once per cache)."""
    o = opts.planner
    key = ("access", o.threshold, o.facility_filter, o.demand, opts.decay)
    return data.cached(key, lambda: compute_access(data.prepared, data.index, o.threshold,
                                                   facility_filter=o.facility_filter, demand=o.demand,
                                                   decay=opts.decay))


def _places(data: PlannerData):
    from geo.gaps import town_places

    return data.cached(("town-places",), lambda: town_places(data.index.facilities, data.districts))


def shortage(data: PlannerData, opts: AccessOptions, acc: Access | None = None) -> list[ShortageArea]:
    """The shortage areas of the options (``limit`` of them, of the district if one is given)."""
    acc = acc or run_access(data, opts)
    o, t = opts.planner, opts.threshold_for(acc)
    key = ("shortage", o.threshold, o.facility_filter, o.demand, opts.decay, t, o.district, o.limit)
    return data.cached(key, lambda: acc.shortage_areas(t, district=o.district, limit=o.limit, places=_places(data)))


def access_payload(data: PlannerData, opts: AccessOptions) -> dict[str, Any]:
    """``GET /api/v1/access``: the assumptions, the city and district rows, the shortage areas (GeoJSON), every
    eligible facility's ratio, and the grid overlay's bounds and legend (the PNG: :func:`access_grid`)."""
    acc = run_access(data, opts)
    o, t = opts.planner, opts.threshold_for(acc)
    a = {**acc.assumptions(opts.max_demand_per_place), **scope_of(data, o.district)}
    b = acc.bounds(o.district)
    return {"assumptions": a, "demand_source": data.prepared.source, "sample": data.sample,
            "city": acc.city_row(t), "districts": acc.district_table(t, o.district),
            "shortage": shortage_collection(shortage(data, opts, acc)), "facilities": acc.facility_table(o.district),
            "grid": {"bounds": [list(b[0]), list(b[1])], "cell_m": data.prepared.cell_m, "legend": acc.legend(t)}}


def access_grid(data: PlannerData, opts: AccessOptions) -> Overlay:
    """The access classes of every cell (of the district) as a PNG overlay."""
    acc = run_access(data, opts)
    o, t = opts.planner, opts.threshold_for(acc)
    key = ("access-png", o.threshold, o.facility_filter, o.demand, opts.decay, t, o.district)
    return data.cached(key, lambda: acc.overlay(t, district=o.district))


def cells_csv(data: PlannerData, opts: AccessOptions) -> bytes:
    """Every cell (of the district) with its demand and access, as CSV (UTF-8 BOM; the assumptions on each row)."""
    acc = run_access(data, opts)
    cols = acc.cell_rows(opts.planner.district)
    t = opts.threshold_for(acc)
    classes = acc.cell_classes(t)
    mask = data.prepared.cell_mask(opts.planner.district)
    cls = classes if mask is None else classes[mask]
    names = [k for k, _, _ in ACCESS_CLASSES]
    extra = {"demand_name": acc.demand_name, "decay": acc.decay, "catchment_m": round(acc.catchment_m, 1),
             "max_demand_per_place": t, "demand_source": data.prepared.source}
    rows = [{**{k: (None if isinstance(v[n], float) and math.isnan(v[n]) else v[n].item() if hasattr(v[n], "item")
                    else v[n]) for k, v in cols.items()}, "class": names[cls[n]], **extra}
            for n in range(len(cls))]
    return csv_bytes(rows, [*cols, "class", *extra])
