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

    fixed = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
    cors = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"))

    @app.after_request
    def _headers(resp):
        headers = resp.headers
        present = {key.lower() for key, _ in headers.items()}
        if "content-security-policy" not in present:
            nonce = g.get("csp_nonce")
            headers.add("Content-Security-Policy", without_nonce if nonce is None
                        else f"default-src 'self'; script-src 'self' 'nonce-{nonce}'{rest}")
        for key, value in fixed:
            if key.lower() not in present:
                headers.add(key, value)
        environ = request.environ
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS") and path.startswith(CORS_READ_PREFIXES) \
                and "/admin" not in path:
            for key, value in cors:
                headers[key] = value
        return resp
