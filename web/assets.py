"""Static files under content-hashed names, kept in memory, cached by browsers for a year.

``asset_name("js/worker.js")`` is ``"js/worker.3f2a9c1b0d.js"``: the first 10 hex digits of the
file's SHA-256 go before the extension, so the name changes whenever the file does. It is the one
helper for asset URLs: :func:`init_assets` makes ``url_for("static", filename=...)`` use it (every
template), and Python code that writes URLs itself (``web.maps.local_assets`` for folium) calls it.

The static view (:func:`serve_static`) answers:

* a hashed name of the current file: ``Cache-Control: public, max-age=31536000, immutable``;
* the plain name (Leaflet's CSS asks for ``images/layers.png`` relative to itself; rewriting that
  would break Leaflet's default marker icon, whose folder is read from the CSS ``url``) or an
  outdated hash (a page from before a deploy): the current file with ``no-cache``;
* either with a strong ``ETag`` (the content hash) and ``304`` to a matching ``If-None-Match``.

Each file is read and hashed once per version (its size and modification time are checked on
each request, so an edited file gets a new name without a restart); :mod:`web.compress` encodes
it once per version by that ``ETag``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

__all__ = ["HASH_LEN", "IMMUTABLE", "STATIC", "Asset", "StaticFiles", "asset_name", "init_assets", "serve_static"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
HASH_LEN = 10
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LEN}}})(?P<ext>\.[^./]+)$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Asset:
    """One version of a static file."""

    path: str  # relative to the static folder, "/"-separated
    data: bytes
    digest: str  # SHA-256, hex
    mimetype: str
    stamp: tuple[int, int]  # (size, mtime_ns) when read

    @property
    def hashed_path(self) -> str:
        """``dir/name.<hash>.ext``; a file without an extension (a licence text) keeps its name."""
        stem, dot, ext = self.path.rpartition(".")
        if not dot or "/" in ext or not stem or stem.endswith("/"):
            return self.path
        return f"{stem}.{self.digest[:HASH_LEN]}.{ext}"

    @property
    def etag(self) -> str:
        return f'"{self.digest[:20]}"'


class StaticFiles:
    """The files under ``root``, read and hashed once per version (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Asset | None:
        """The current version of ``path`` (``None`` if there is no such file)."""
        full = safe_join(str(self.root), path)
        if full is None:
            return None
        try:
            st = os.stat(full)
        except OSError:
            return None
        if not os.path.isfile(full):
            return None
        stamp = (st.st_size, st.st_mtime_ns)
        asset = self._assets.get(path)
        if asset is not None and asset.stamp == stamp:
            return asset
        data = Path(full).read_bytes()
        ext = os.path.splitext(path)[1].lower()
        mimetype = _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        asset = Asset(path, data, hashlib.sha256(data).hexdigest(), mimetype, stamp)
        with self._lock:
            self._assets[path] = asset
        return asset

    def name(self, path: str) -> str:
        """``path`` with the file's content hash in it; ``path`` itself if there is no such file."""
        asset = self.get(path)
        return path if asset is None else asset.hashed_path

    def resolve(self, requested: str) -> tuple[Asset, bool] | None:
        """(the file a URL path asks for, whether it named the current hash), or ``None``."""
        asset = self.get(requested)
        if asset is not None:
            return asset, False
        m = _HASHED.match(requested)
        if m is None:
            return None
        asset = self.get(m["stem"] + m["ext"])
        if asset is None:
            return None
        return asset, asset.digest.startswith(m["hash"])


#: The package's static folder (``web/static``).
STATIC = StaticFiles(STATIC_DIR)


def asset_name(path: str) -> str:
    """The content-hashed name of ``web/static/<path>`` (the one helper for asset URLs).

    >>> asset_name("js/common.js") != "js/common.js" and asset_name("js/common.js").startswith("js/common.")
    True
    """
    return STATIC.name(path)


def serve_static(filename: str) -> Response:
    """The view of ``/static/<path:filename>`` (see the module docstring)."""
    found = STATIC.resolve(filename)
    if found is None:
        raise NotFound()
    asset, current = found
    resp = Response(asset.data, mimetype=asset.mimetype)
    resp.headers["ETag"] = asset.etag
    resp.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
    return resp.make_conditional(request)


def init_assets(app: Flask) -> None:
    """Serve ``web/static`` through :func:`serve_static`; ``url_for("static", …)`` gives hashed names."""
    app.view_functions["static"] = serve_static

    @app.url_defaults
    def _hashed_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename"):
            values["filename"] = asset_name(values["filename"])
