"""The nearest engine of a large registry, held compactly in every process: :class:`ResidentIndex`.

Answering each nearest request in PostgreSQL (:class:`geo.store.knn.DbNearest`, KNN on the GiST index) costs
the database ~0.35 ms of CPU and the app ~0.5 ms per request (measured at 32 connections on the 186,100 stations
of the national sample, on the app's own two cores); a whole Qingdao request costs ~0.27 ms. Nearest needs little
of each record — its position, what the filters test (kind, amenities, access, status, opening hours) and what a
hit shows — so that much is held in memory instead, for the live facilities of one registry version:

* read from the store in one pass (``ORDER BY fid``), built once in the gunicorn master before it forks
  (``web.prod``): numpy arrays and one bytes blob that nothing writes, so the workers share their pages;
* each facility's position as Earth-centred x, y, z in metres on the WGS84 ellipsoid: the straight chord
  between two points on the surface is never longer than the geodesic between them, so a KD tree over the
  chords (``scipy.spatial.cKDTree``) finds every candidate exactly (below);
* what a hit shows: the caller's encoding of each record (``encode(Facility) -> bytes``: the web layer's hit
  JSON), compressed one record at a time with zstd against a dictionary trained on the first records read (the
  national sample: 1,340 -> ~160 bytes a record, 0.7 µs to decompress one; zlib with a preset dictionary took
  2.5 µs and copied its 32 KB dictionary through the CPU caches for every record);
* a later registry version is read as a change (:meth:`RegistryStore.changes_since`): the records changed or
  added since are read and encoded, the rest kept by reference (:meth:`ResidentIndex.updated`).

A query takes the same arguments and gives the same answer as :meth:`geo.nearest.FacilityIndex.query` (straight
travel; ``tests/test_resident.py`` checks it against that index and against a brute-force geodesic scan): the
eligible positions per filter and minute (the masks FacilityIndex uses), a KD tree over their chords (kept per
distinct eligible set), the nearest by chord read until the k-th nearest by geodesic distance (geographiclib, via
``geo.crs``) is shorter than every chord not read; ties by registry order (``fid``). ``Hit.facility`` is None:
the hit's record is :meth:`ResidentIndex.record` (its encoding) or ``facilities[index]`` (read from the store).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np

from geo.crs import geodesic_inverse_point
from geo.hours import Hours
from geo.model import AMENITIES, KINDS, STATUS, WORKER_TYPES, Facility
from geo.nearest import Hit, NearestResult, Travel, check_query, query_minute, within
from geo.store.knn import BoundedDict, _check, straight_only

__all__ = ["ResidentIndex"]

log = logging.getLogger(__name__)

_A = 6_378_137.0  # WGS84 semi-major axis (m)
_E2 = 6.694379990141317e-3  # WGS84 first eccentricity squared
_SLACK = 4  # chords read beyond k at first (the geodesic order differs from the chord order only slightly)
_GROWTH = 4
_SUBSETS = 16  # eligible sets (and their KD trees) kept per process: a few filters, the minutes they span
_MINUTES = 64
_RECORDS = 5_000  # records read from the store (another datum's hit) kept per process
_DICTIONARY_BYTES = 32_768
_LEVEL = 9
_KIND = {k: i for i, k in enumerate(KINDS)}
_STATUS = {s: i for i, s in enumerate(STATUS)}
_AMENITY_BIT = {a: 1 << i for i, a in enumerate(AMENITIES)}
_ACCESS: dict[str, int] = {}
for _allowed in WORKER_TYPES.values():
    for _a in sorted(_allowed):
        _ACCESS.setdefault(_a, len(_ACCESS))


def ecef(lon, lat):
    """Earth-centred, Earth-fixed x, y, z in metres of WGS84 points on the ellipsoid (height 0)."""
    lam, phi = np.radians(lon), np.radians(lat)
    s = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * s * s)
    c = n * np.cos(phi)
    return np.column_stack([c * np.cos(lam), c * np.sin(lam), n * (1.0 - _E2) * s])


def _ecef_point(lon: float, lat: float) -> tuple[float, float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    s = math.sin(phi)
    n = _A / math.sqrt(1.0 - _E2 * s * s)
    c = n * math.cos(phi)
    return c * math.cos(lam), c * math.sin(lam), n * (1.0 - _E2) * s


class _Records:
    """Each position's encoded record, compressed with zstd against one dictionary trained on the records: a
    shared base (one blob and its offsets) and, after changes, the positions read since (``overlay``)."""

    def __init__(self, dictionary: bytes, blob: bytes, offsets: np.ndarray, base_of: np.ndarray | None = None,
                 overlay: dict[int, bytes] | None = None):
        self.dictionary, self.blob, self.offsets = dictionary, blob, offsets
        self.base_of = base_of  # position -> position in the blob (-1: in the overlay); None: the same
        self.overlay = overlay or {}
        self._dict = _zstd_dict(dictionary)
        self._local = threading.local()  # a decompressor per thread (one may not be used by two at once)

    @classmethod
    def dictionary(cls, samples: Sequence[bytes]) -> bytes:
        """A dictionary trained on ``samples`` (zstd's COVER), or the samples' text itself when they are too
        few to train on."""
        import zstandard

        try:
            return zstandard.train_dictionary(_DICTIONARY_BYTES, list(samples)).as_bytes()
        except zstandard.ZstdError:
            return b"".join(samples)[-_DICTIONARY_BYTES:]

    def compressor(self):
        import zstandard

        return zstandard.ZstdCompressor(level=_LEVEL, dict_data=self._dict, write_checksum=False,
                                        write_dict_id=False)

    def get(self, i: int) -> bytes:
        base_of, offsets = self.base_of, self.offsets
        j = i if base_of is None else base_of.item(i)  # .item: a Python int, no numpy scalar
        data = self.overlay[i] if j < 0 else self.blob[offsets.item(j):offsets.item(j + 1)]
        try:
            return self._local.d.decompress(data)
        except AttributeError:  # this thread's first record
            import zstandard

            self._local.d = zstandard.ZstdDecompressor(dict_data=self._dict)
            return self._local.d.decompress(data)

    def nbytes(self) -> int:
        return len(self.blob) + self.offsets.nbytes + sum(map(len, self.overlay.values()))


def _zstd_dict(dictionary: bytes):
    import zstandard

    if not dictionary:
        return None
    kind = zstandard.DICT_TYPE_FULLDICT if dictionary[:4] == b"\x37\xa4\x30\xec" else zstandard.DICT_TYPE_RAWCONTENT
    return zstandard.ZstdCompressionDict(dictionary, dict_type=kind)


class _Columns:
    """What the filters and the distance need, one row per live facility in registry order (``fid``)."""

    NAMES = ("fid", "id", "lon", "lat", "kind", "amenities", "access", "status", "hours")

    def __init__(self, **arrays: np.ndarray):
        for name in self.NAMES:
            setattr(self, name, arrays[name])

    @classmethod
    def of(cls, rows: Sequence[tuple[int, Facility]], groups: dict[tuple[str, bool], int]) -> _Columns:
        def group(f: Facility) -> int:
            if f.opening_hours is None:
                return -1
            return groups.setdefault((f.opening_hours, f.workday_calendar), len(groups))

        return cls(
            fid=np.fromiter((fid for fid, _ in rows), dtype="int64", count=len(rows)),
            id=np.array([f.id.encode() for _, f in rows], dtype="S"),
            lon=np.fromiter((f.lon for _, f in rows), dtype="float64", count=len(rows)),
            lat=np.fromiter((f.lat for _, f in rows), dtype="float64", count=len(rows)),
            kind=np.fromiter((_KIND[f.kind] for _, f in rows), dtype="uint8", count=len(rows)),
            amenities=np.fromiter((sum(_AMENITY_BIT[a] for a in set(f.amenities)) for _, f in rows), dtype="uint64",
                                  count=len(rows)),
            access=np.fromiter((_ACCESS.get(f.access, 255) for _, f in rows), dtype="uint8", count=len(rows)),
            status=np.fromiter((_STATUS[f.status] for _, f in rows), dtype="uint8", count=len(rows)),
            hours=np.fromiter((group(f) for _, f in rows), dtype="int32", count=len(rows)))

    def take(self, ix: np.ndarray) -> dict[str, np.ndarray]:
        return {name: getattr(self, name)[ix] for name in self.NAMES}


class _Subset:
    """The eligible positions of one filter at one minute, and a KD tree over their chords (built on first use)."""

    __slots__ = ("lock", "positions", "tree", "xyz")

    def __init__(self, positions: np.ndarray, xyz: np.ndarray):
        self.positions, self.xyz, self.tree, self.lock = positions, xyz, None, threading.Lock()

    def kd(self):
        if self.tree is None:
            with self.lock:
                if self.tree is None:
                    from scipy.spatial import cKDTree

                    self.tree = cKDTree(self.xyz[self.positions])
        return self.tree


class ResidentIndex:
    """The live facilities of one registry version, held compactly for nearest queries (see the module docstring).

    Build with :meth:`from_store`; a newer version with :meth:`updated` (reads only the change)."""

    #: What a batch answer's ``distance_m`` is (``/api/v1/nearest`` POST says it).
    BATCH_DISTANCE = "geodesic (WGS84)"

    def __init__(self, store, version: int, columns: _Columns, records: _Records, groups: dict[tuple[str, bool], int],
                 encode: Callable[[Facility], bytes], *, travel: Travel | None = None):
        self.store, self.version, self.encode = store, version, encode
        self.travel = travel or Travel()
        self.columns, self.records = columns, records
        self._groups = groups
        self._hours = [Hours.parse(*key) for key in sorted(groups, key=groups.__getitem__)]
        self.xyz = ecef(columns.lon, columns.lat)
        self._fid = columns.fid
        self._always = np.array([h.always_open for h in self._hours] + [False], dtype=bool)  # last: unknown hours
        self._subsets: BoundedDict = BoundedDict(_SUBSETS)
        self._distinct: BoundedDict = BoundedDict(_SUBSETS)  # the same eligible set at another minute: one tree
        self._minutes: BoundedDict = BoundedDict(_MINUTES)
        self.facilities = _StoredFacilities(self)

    def __len__(self) -> int:
        return len(self._fid)

    def __repr__(self) -> str:
        return f"ResidentIndex(version={self.version}, facilities={len(self)}, records={self.records.nbytes():,} B)"

    # -- building ------------------------------------------------------------------------------------
    @classmethod
    def from_store(cls, store, encode: Callable[[Facility], bytes], *, travel: Travel | None = None) -> ResidentIndex:
        """The committed version's live facilities, read in one pass (``encode``: a record's bytes as hits show it),
        a chunk at a time: no more than a chunk of records is ever decoded or encoded at once (built in the gunicorn
        master, whose heap the workers inherit)."""
        groups: dict[tuple[str, bool], int] = {}
        columns: list[_Columns] = []
        blobs: list[bytes] = []
        sizes: list[np.ndarray] = []
        dictionary, version = None, 0
        for version, rows in store.live_records():  # noqa: B007 - every chunk carries the version read
            encoded = [encode(f) for _, f in rows]
            if dictionary is None:  # from the first chunk: the records share their keys and most of their text
                dictionary = _Records.dictionary(encoded)
                compress = _Records(dictionary, b"", np.zeros(1, dtype="int64")).compressor().compress
            parts = [compress(e) for e in encoded]
            columns.append(_Columns.of(rows, groups))
            blobs.append(b"".join(parts))
            sizes.append(np.fromiter(map(len, parts), dtype="int64", count=len(parts)))
        offsets = np.zeros(sum(map(len, sizes)) + 1, dtype="int64")
        np.cumsum(np.concatenate(sizes), out=offsets[1:])
        records = _Records(dictionary or b"", b"".join(blobs), offsets)
        merged = _Columns(**{n: np.concatenate([getattr(c, n) for c in columns]) for n in _Columns.NAMES})
        log.info("nearest index: %d facilities of version %d, records %.1f MB", len(merged.fid), version,
                 records.nbytes() / 1e6)
        return cls(store, version, merged, records, groups, encode, travel=travel)

    def updated(self, version: int | None = None) -> ResidentIndex:
        """This index brought to the store's ``version`` (default: its head) by reading what changed since."""
        new_version, changed, gone = self.store.changes_since(self.version)
        if version is not None and new_version != version:
            log.info("nearest index: asked for version %d, the store is at %d", version, new_version)
        if new_version == self.version:
            return self
        # kept: what did not change and was not deleted (a deleted record's history is closed, no row is left)
        stays = ~np.isin(self._fid, np.array([fid for fid, _ in changed], dtype="int64"))
        if gone:
            stays &= ~np.isin(self.columns.id, np.array([i.encode() for i in gone], dtype="S"))
        keep = np.flatnonzero(stays)
        live = [(fid, f) for fid, f in changed if f.status != "removed"]
        groups = dict(self._groups)
        new = _Columns.of(live, groups)
        kept = self.columns.take(keep)
        merged = {name: np.concatenate([kept[name], getattr(new, name)]) for name in _Columns.NAMES}
        order = np.argsort(merged["fid"], kind="stable")
        columns = _Columns(**{name: merged[name][order] for name in _Columns.NAMES})
        old_base = self.records.base_of[keep] if self.records.base_of is not None else keep
        base_of = np.concatenate([old_base, np.full(len(live), -1, dtype="int64")])[order]
        where = np.empty(len(order), dtype="int64")
        where[order] = np.arange(len(order))  # merged row -> new position
        overlay = {}
        old_overlay = self.records.overlay
        for j, i in enumerate(keep.tolist()):
            if old_base[j] < 0:
                overlay[int(where[j])] = old_overlay[i]
        compress = self.records.compressor().compress
        for j, (_, f) in enumerate(live):
            overlay[int(where[len(keep) + j])] = compress(self.encode(f))
        records = _Records(self.records.dictionary, self.records.blob, self.records.offsets, base_of, overlay)
        log.info("nearest index: version %d -> %d, %d records read", self.version, new_version, len(changed))
        return ResidentIndex(self.store, new_version, columns, records, groups, self.encode, travel=self.travel)

    # -- records --------------------------------------------------------------------------------------
    def record(self, i: int) -> bytes:
        """Position ``i``'s record as ``encode`` made it."""
        return self.records.get(i)

    def facility_id(self, i: int) -> str:
        return self.columns.id[i].decode()

    # -- eligibility ----------------------------------------------------------------------------------
    def _states(self, at: datetime) -> tuple[np.ndarray, list, list]:
        """(open per hours group, last slot the unknown hours: False), next change per group, open per group."""
        got = self._minutes.get(at)
        if got is None:
            is_open = [h.is_open(at) for h in self._hours]
            got = self._minutes[at] = (np.array([*is_open, False], dtype=bool),
                                       [h.next_change(at) for h in self._hours], is_open)
        return got

    def _subset(self, kinds: tuple, amenities: tuple, worker, at: datetime | None, include_closed: bool,
                open_24h: bool, unknown_ok: bool) -> _Subset:
        key = (kinds, amenities, worker, at, include_closed, open_24h, unknown_ok)
        got = self._subsets.get(key)
        if got is not None:
            return got
        _check(kinds, amenities, worker)
        c = self.columns
        mask = np.ones(len(self), dtype=bool)
        if kinds:
            mask &= np.isin(c.kind, [_KIND[k] for k in kinds])
        if amenities:
            need = np.uint64(sum(_AMENITY_BIT[a] for a in set(amenities)))
            mask &= (c.amenities & need) == need
        if worker is not None:
            mask &= np.isin(c.access, [_ACCESS[a] for a in WORKER_TYPES[worker]])
        if not include_closed:
            mask &= c.status == _STATUS["open"]
        unknown = c.hours < 0
        if at is not None:
            is_open = self._states(at)[0][c.hours]
            mask &= (is_open | unknown) if unknown_ok else is_open
        if open_24h:
            always = self._always[c.hours]
            mask &= (always | unknown) if unknown_ok else always
        positions = np.flatnonzero(mask)
        digest = (len(positions), hash(positions.tobytes()))
        got = self._distinct.get(digest)
        if got is None or not np.array_equal(got.positions, positions):
            got = self._distinct[digest] = _Subset(positions, self.xyz)
        self._subsets[key] = got
        return got

    # -- queries --------------------------------------------------------------------------------------
    def query(self, lon: float, lat: float, *, k: int = 5, radius_m: float | None = None,
              kinds: Sequence[str] = (), amenities: Sequence[str] = (), worker: str | None = None,
              open_at: datetime | None | str = "now", include_closed: bool = False,
              open_24h: bool = False, travel: Travel | None = None,
              include_unknown_hours: bool = False, travel_model: str = "straight", context=None) -> NearestResult:
        """As :meth:`geo.nearest.FacilityIndex.query` (same arguments, same answer; ``Hit.facility`` None)."""
        if travel_model != "straight":
            straight_only(travel_model)
        check_query(k, radius_m)
        at = query_minute(open_at)
        sub = self._subset(tuple(kinds), tuple(amenities), worker, None if open_at is None else at, include_closed,
                           open_24h, include_unknown_hours)
        eligible = len(sub.positions)
        if not eligible:
            return NearestResult([], at, 0)
        chosen = self._nearest(sub, float(lon), float(lat), k)
        chosen = within(chosen, radius_m)
        walk, ebike = (travel or self.travel).per_metre()
        _, next_change, is_open = self._states(at)
        hours = self.columns.hours
        hits = []
        for dist, i, az in chosen:
            g = int(hours[i])
            hits.append(Hit(None, dist, az % 360.0, radius_m is None or dist <= radius_m,  # type: ignore[arg-type]
                            None if g < 0 else is_open[g], None if g < 0 else next_change[g], dist * walk,
                            dist * ebike, i))
        return NearestResult(hits, at, eligible)

    def _nearest(self, sub: _Subset, lon: float, lat: float, k: int) -> list[tuple[float, int, float]]:
        """The k nearest of ``sub`` by geodesic distance: (metres, position, azimuth), ties by position.

        Candidates come nearest chord first; each one's geodesic distance is measured until the next chord is
        longer than the k-th shortest geodesic distance so far: every facility after it is at least that chord
        away (a chord is never longer than the geodesic), so none can be nearer than the k-th or tie with it."""
        n = len(sub.positions)
        k = min(k, n)
        tree, q = sub.tree or sub.kd(), _ecef_point(lon, lat)
        m = min(n, k + _SLACK)
        # .item: a Python float straight from the shared array (a list of floats would be copied into every worker
        # as reading them changes their reference counts)
        inv, flon, flat = geodesic_inverse_point, self.columns.lon.item, self.columns.lat.item
        while True:
            chord, j = tree.query(q, k=m)
            if m > 1:
                chords, found = chord.tolist(), sub.positions[j].tolist()
            else:  # k=1 gives scalars
                chords, found = [float(chord)], [int(sub.positions[j])]
            ranked: list[tuple[float, int, float]] = []  # afresh each read: tied chords may come in another order
            for c, i in zip(chords, found, strict=True):
                if len(ranked) >= k and c > ranked[k - 1][0]:
                    return ranked[:k]
                az, _, dist_m = inv(lon, lat, flon(i), flat(i))
                ranked.append((dist_m, i, az))
                if len(ranked) >= k:
                    ranked.sort()
            if m == n:
                return ranked[:k]
            m = min(n, m * _GROWTH)

    def query_batch(self, lon, lat, *, k: int = 1, kinds: Sequence[str] = (), amenities: Sequence[str] = (),
                    worker: str | None = None, open_at: datetime | None | str = "now",
                    include_closed: bool = False, open_24h: bool = False, include_unknown_hours: bool = False,
                    ) -> tuple[np.ndarray, np.ndarray, datetime, int]:
        """As :meth:`geo.nearest.FacilityIndex.query_batch`, the distances geodesic: ``(distance_m, index, at,
        eligible)``, arrays of shape (n, k) (``inf`` and -1 where fewer than k are eligible)."""
        check_query(k, None)
        at = query_minute(open_at)
        sub = self._subset(tuple(kinds), tuple(amenities), worker, None if open_at is None else at, include_closed,
                           open_24h, include_unknown_hours)
        lon, lat = np.atleast_1d(np.asarray(lon, dtype="float64")), np.atleast_1d(np.asarray(lat, dtype="float64"))
        dist, index = np.full((len(lon), k), np.inf), np.full((len(lon), k), -1, dtype="int64")
        if len(sub.positions):
            for r, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
                for c, (d, i, _) in enumerate(self._nearest(sub, x, y, k)):
                    dist[r, c], index[r, c] = d, i
        return dist, index, at, int(len(sub.positions))


class _StoredFacilities:
    """``index.facilities[i]``: position ``i``'s full record, read from the store (kept for the last few)."""

    def __init__(self, index: ResidentIndex):
        self.index = index
        self._kept: BoundedDict = BoundedDict(_RECORDS)

    def __getitem__(self, i: int) -> Facility:
        got = self._kept.get(i)
        if got is None:
            got = self._kept[i] = self.index.store.record_by_fid(int(self.index.columns.fid[i]))
        return got

    def __len__(self) -> int:
        return len(self.index)




