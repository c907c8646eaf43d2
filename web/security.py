"""Response headers: a Content-Security-Policy that allows only the app's own scripts, and CORS for reads.

Inline ``<script>`` blocks are allowed only with the per-request nonce: templates
write ``<script nonce="{{ csp_nonce() }}">``, and cached HTML (folium maps) gets the
nonce added by :func:`add_nonce` when it is served. Map tiles may come from any
HTTPS host (they are images); every other fetch stays on this origin.

The policy goes only with what a browser can run as a document or a worker (:func:`policed`): HTML,
XML and SVG, and JavaScript (a worker's policy is the one its script came with). A JSON answer, a
stylesheet, an image or a download is governed by the policy of the page that loads it, so the ~250
bytes would change nothing there (about 4 KB on the worker page's first load); ``nosniff`` (which keeps
a browser from ever treating them as HTML) and the referrer policy go with every response.
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


_CSP_REST = ("; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; connect-src 'self'; "
             "font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
#: Headers every response gets (unless the view set them): the policy here is the one without a nonce.
FIXED_HEADERS = (("Content-Security-Policy", "default-src 'self'; script-src 'self'" + _CSP_REST),
                 ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
#: Headers for reads of the public API from any origin (see :func:`cors_readable`); a preflight (OPTIONS) also
#: gets :data:`PREFLIGHT_HEADERS` (the Fetch standard reads ``Access-Control-Allow-Methods`` only there).
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),)
PREFLIGHT_HEADERS = (("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),)


#: Media types a browser may render as a document (scripts can run in it) or start as a worker.
_POLICED_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                            "text/javascript", "application/javascript", "application/x-javascript",
                            "application/ecmascript", "text/ecmascript"})


def policed(content_type: str | None) -> bool:
    """Whether a response of ``content_type`` needs the Content-Security-Policy (an unknown type does)."""
    if not content_type:
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media in _POLICED_TYPES or media.endswith("+xml")


def cors_readable(method: str, path: str) -> bool:
    """Whether any origin may read this response: reads of the public API, never the admin API."""
    return method in ("GET", "HEAD", "OPTIONS") and path.startswith(CORS_READ_PREFIXES) and "/admin" not in path


def response_headers(method: str, path: str, nonce: str | None = None, *,
                     content_type: str | None = None) -> list[tuple[str, str]]:
    """The headers every response gets (``web.fastpath`` adds them to lean answers, the hook below to
    Flask's): the policy, for a ``content_type`` that needs one, allows inline scripts only with this
    request's ``nonce``, if it made one."""
    out = []
    for key, value in FIXED_HEADERS:
        if key == "Content-Security-Policy":
            if not policed(content_type):
                continue
            if nonce is not None:
                value = f"default-src 'self'; script-src 'self' 'nonce-{nonce}'{_CSP_REST}"
        out.append((key, value))
    if cors_readable(method, path):
        out.extend(CORS_HEADERS)
        if method == "OPTIONS":
            out.extend(PREFLIGHT_HEADERS)
    return out


def init_security(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(resp):
        headers = resp.headers
        present = {key.lower() for key, _ in headers.items()}
        environ = request.environ
        for key, value in response_headers(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""),
                                           g.get("csp_nonce"), content_type=resp.content_type):
            if key.startswith("Access-Control-"):
                headers[key] = value
            elif key.lower() not in present:  # a view may set its own (e.g. a stricter policy)
                headers.add(key, value)
        return resp
