"""Response headers: a Content-Security-Policy that allows only the app's own scripts, and CORS for reads.

Inline ``<script>`` blocks are allowed only with the per-request nonce: templates
write ``<script nonce="{{ csp_nonce() }}">``, and cached HTML (folium maps) gets the
nonce added by :func:`add_nonce` when it is served. Map tiles may come from any
HTTPS host (they are images); every other fetch stays on this origin.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

#: Paths whose GET responses any origin may read (the public read API).
CORS_READ_PREFIXES = ("/api/v1/", "/ogc", "/api/openapi.json")
_SCRIPT_TAG = re.compile(r"<script(?![^>]*\bnonce=)", re.IGNORECASE)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def add_nonce(html: str) -> str:
    """Give every ``<script>`` tag in ``html`` this request's nonce."""
    return _SCRIPT_TAG.sub(f'<script nonce="{csp_nonce()}"', html)


def init_security(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    rest = ("; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; connect-src 'self'; "
            "font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
    without_nonce = "default-src 'self'; script-src 'self'" + rest

    @app.after_request
    def _headers(resp):
        nonce = g.get("csp_nonce")
        csp = without_nonce if nonce is None else f"default-src 'self'; script-src 'self' 'nonce-{nonce}'{rest}"
        resp.headers.setdefault("Content-Security-Policy", csp)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.method in ("GET", "HEAD", "OPTIONS") and request.path.startswith(CORS_READ_PREFIXES) \
                and "/admin" not in request.path:
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        return resp
