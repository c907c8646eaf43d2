"""Security headers: a CSP allowing only our own scripts, CORS for the read API only, no leaks in errors."""

from __future__ import annotations

import re


def test_csp_on_every_response_and_scripts_carry_the_nonce(client):
    for url in ("/map", "/api/v1/meta", "/nothing"):
        csp = client.get(url).headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp and "script-src 'self'" in csp
    r = client.get("/map")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    tags = re.findall(r"<script[^>]*>", r.get_data(as_text=True))
    assert tags and all(f'nonce="{nonce}"' in t for t in tags)
    assert client.get("/map").headers["Content-Security-Policy"] != r.headers["Content-Security-Policy"]


def test_cors_allows_reads_only(client, data_dir):
    assert client.get("/api/v1/facilities").headers.get("Access-Control-Allow-Origin") == "*"
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
