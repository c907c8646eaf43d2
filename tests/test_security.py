"""Security headers: a CSP allowing only our own scripts, CORS for the read API only, no leaks in errors."""

from __future__ import annotations

import re

import pytest


def test_csp_on_every_document_and_script_and_scripts_carry_the_nonce(client):
    static_js = re.search(r'<script src="(/static/js/worker[^"]+)"', client.get("/").get_data(as_text=True))[1]
    for url in ("/", "/map", "/planner", "/api/docs", "/ogc/collections?f=html", static_js):
        r = client.get(url)
        assert r.status_code == 200, url
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp and "script-src 'self'" in csp
    r = client.get("/map")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    tags = re.findall(r"<script[^>]*>", r.get_data(as_text=True))
    assert tags and all(f'nonce="{nonce}"' in t for t in tags)
    assert client.get("/map").headers["Content-Security-Policy"] != r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("url", ["/api/v1/meta", "/nothing", "/worker/facilities.geojson", "/worker/hours",
                                 "/api/v1/nearest?lon=120.38&lat=36.06"])
@pytest.mark.parametrize("accept_encoding", [None, "gzip, br"])
def test_data_answers_go_without_the_policy_but_keep_nosniff(client, url, accept_encoding):
    """A policy on JSON or GeoJSON would do nothing (the page's policy governs what it loads): left out;
    nosniff, so no browser ever takes such an answer for HTML, and the referrer policy stay everywhere."""
    from web.security import FIXED_HEADERS

    r = client.get(url, headers={"Accept-Encoding": accept_encoding} if accept_encoding else {})
    assert r.mimetype in ("application/json", "application/geo+json"), (url, r.mimetype)
    assert "Content-Security-Policy" not in r.headers
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == dict(FIXED_HEADERS)[
        "Referrer-Policy"]


@pytest.mark.parametrize(("content_type", "policed"), [
    ("text/html; charset=utf-8", True), ("application/xhtml+xml", True), ("image/svg+xml", True),
    ("application/xml", True), ("application/atom+xml", True), ("text/javascript; charset=utf-8", True),
    ("application/javascript", True), (None, True), ("", True),
    ("application/json", False), ("application/geo+json", False), ("text/css", False), ("image/png", False),
    ("text/csv; charset=utf-8", False), ("application/zip", False), ("application/geopackage+sqlite3", False)])
def test_which_media_types_get_the_policy(content_type, policed):
    from web.security import policed as needs

    assert needs(content_type) is policed


def test_cors_allows_reads_only(client, data_dir):
    assert client.get("/api/v1/facilities").headers.get("Access-Control-Allow-Origin") == "*"
    # a cross-origin page's preflight learns the methods; the read itself needs only the origin (Fetch standard)
    pre = client.options("/api/v1/nearest", headers={"Origin": "https://example.org",
                                                     "Access-Control-Request-Method": "GET"})
    assert pre.headers.get("Access-Control-Allow-Origin") == "*"
    assert pre.headers.get("Access-Control-Allow-Methods") == "GET, HEAD, OPTIONS"
    near = client.get("/api/v1/nearest?lon=120.38&lat=36.07", headers={"Origin": "https://example.org"})
    assert near.status_code == 200 and near.headers.get("Access-Control-Allow-Origin") == "*"
    r = client.post("/api/v1/admin/facilities", json={})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = client.get("/api/v1/admin/audit")
    assert "Access-Control-Allow-Origin" not in r.headers


def test_errors_leak_no_internals(app, client):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret path /work/main/instance/facilities.geojson")

    r = client.get("/boom-for-test")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "secret" not in body and "Traceback" not in body and "/work/" not in body
    assert r.get_json()["error"]["code"] == "internal_error"


def test_oversized_body_is_413_in_the_error_shape(client):
    r = client.post("/api/v1/nearest", data=b"x" * (22 * 1024 * 1024), content_type="application/json")
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413
