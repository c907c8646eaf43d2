"""Flask adapter: the app factory, blueprints for the JSON API and the pages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from geo.errors import Conflict
from geo.regions import activate, region_for
from geo.settings import Settings
from geo.store import open_store
from geo.store.knn import DbRegistry, uses_database
from web.assets import init_assets
from web.errors import register_error_handlers
from web.jsonio import OrjsonProvider
from web.security import init_security
from web.state import AppState, Snapshot

__all__ = ["create_app", "state"]

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: load settings, the districts and the registry once.

    ``test_config`` may hold Flask settings and ``WORKERMAP_*`` overrides
    (``DATA_DIR``, ``SHIPPED_DIR`` …) for tests.
    """
    app = Flask(__name__, instance_relative_config=False)
    app.json = OrjsonProvider(app)
    app.config.from_mapping(MAX_CONTENT_LENGTH=21 * 1024 * 1024)  # imports: 20 MB + form overhead
    cfg = dict(test_config or {})
    app.config.update({k: v for k, v in cfg.items() if k.isupper()})
    overrides = {k.removeprefix("WORKERMAP_").lower(): v for k, v in cfg.items() if k.startswith("WORKERMAP_")}
    for key in ("data_dir", "shipped_dir"):
        if key in overrides:
            overrides[key] = Path(overrides[key])
    settings = Settings.from_env(**overrides)

    from geo.city_planner import needs_city

    region = activate(region_for(settings))  # WORKERMAP_REGION: the one region this process serves
    districts = region.districts()
    store = open_store(settings, districts)
    # a large registry on PostGIS is queried there, never loaded whole into each worker (geo/store/knn.py)
    database = uses_database(settings.query_mode, store, region_level=region.level)
    registry = DbRegistry.at_head(store) if database else store.load()
    app_state = AppState(settings, districts, store, registry, region=region)
    if not database:
        app_state.index  # noqa: B018 - build the index and load the demand grid now, not on a request
    try:  # a province or the nation plans per city (geo.city_planner): a city's demand is read when asked for
        if not needs_city(region):
            app_state.demand  # noqa: B018
    except Conflict as exc:  # a region without modelled demand: the planner says so until one is imported
        log.warning("%s", exc)
    app.extensions["workermap"] = app_state
    log.info("registry loaded: %d facilities, version %s, from %s", len(registry), registry.version, store.where)

    register_error_handlers(app)
    init_security(app)
    init_assets(app)  # /static/ under content-hashed names, cached for a year
    from web import admin, api, basemap, nearest_api, pages

    app.register_blueprint(basemap.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.health_bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(nearest_api.bp)
    app.register_blueprint(pages.bp)
    from web import exports, ogc, openapi

    app.register_blueprint(ogc.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(openapi.bp)
    from web import coverage_api, planner_extra_api

    app.register_blueprint(coverage_api.bp)
    app.register_blueprint(planner_extra_api.bp)  # /access, /usage, /recommendations
    from web import search_api

    app.register_blueprint(search_api.bp)
    from web import tiles

    app.register_blueprint(tiles.bp)  # /tiles/streets.pmtiles: the imported extract's street basemap
    from web import tiles_mvt

    app.register_blueprint(tiles_mvt.bp)  # /tiles/facilities/{z}/{x}/{y}.mvt|.geojson: facilities by map tile
    from web import reports_api

    app.register_blueprint(reports_api.bp)
    app.register_blueprint(reports_api.admin_bp)
    from web.fastpath import RequestPipeline

    app.wsgi_app = RequestPipeline(app.wsgi_app, app_state)  # every request: version check, lean routes, headers
    return app


def state() -> Snapshot:
    """What this request reads: one registry version (taken on first use, then the same throughout the
    request) with the shared settings, districts and store."""
    from flask import current_app, g

    snap = g.get("workermap_snapshot")
    if snap is None:
        snap = g.workermap_snapshot = current_app.extensions["workermap"].snapshot
    return snap
