"""Every text response is compressed (Brotli or gzip) when the client accepts it, through the one request path.

The decoded bodies are compared with the uncompressed answer to the same request, decoded by the
reference libraries (``gzip`` of the standard library, ``brotli``), not by our code.
"""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from werkzeug.test import Client

from web import compress
from web.compress import MIN_BYTES, choose_coding

BR = {"Accept-Encoding": "gzip, deflate, br, zstd"}  # what Chromium sends
GZ = {"Accept-Encoding": "gzip"}
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}
NEAREST = "/api/v1/nearest?lon=120.3843&lat=36.062&k=8&open_at=any"


@pytest.fixture(scope="module")
def client(sample_app):
    return sample_app.test_client()


def _static_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def _no_nonce(text: str) -> str:
    return re.sub(r"nonce[=-][\"']?[A-Za-z0-9_-]+", "nonce", text)


def _check_encoded(plain, resp, coding: str) -> bytes:
    """``resp`` is ``plain``'s body in ``coding``, with the headers to match; returns the decoded body."""
    assert resp.status_code == plain.status_code == 200
    assert resp.headers["Content-Encoding"] == coding
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert int(resp.headers["Content-Length"]) == len(resp.data) < len(plain.data)
    assert resp.mimetype == plain.mimetype
    decoded = DECODE[coding](resp.data)
    if plain.headers.get("ETag"):  # weak while the quick encoding is served, strong once the best one is
        assert resp.headers["ETag"].removeprefix("W/") == plain.headers["ETag"][:-1] + f'-{coding}"'
    assert resp.headers.get("Cache-Control") == plain.headers.get("Cache-Control")
    return decoded


@pytest.mark.parametrize("coding,headers", [("br", BR), ("gzip", GZ)])
def test_html_page_is_compressed_and_revalidated(client, coding, headers):
    plain = client.get("/")
    resp = client.get("/", headers=headers)
    decoded = _check_encoded(plain, resp, coding)
    assert _no_nonce(decoded.decode()) == _no_nonce(plain.get_data(as_text=True))  # only the CSP nonce differs
    assert resp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("kind", ["js", "css"])
@pytest.mark.parametrize("coding,headers", [("br", BR), ("gzip", GZ)])
def test_static_js_and_css_are_compressed_and_immutable(client, kind, coding, headers):
    urls = [u for u in _static_urls(client.get("/").get_data(as_text=True)) if u.endswith(f".{kind}")]
    assert urls
    for url in urls:
        plain = client.get(url)
        if len(plain.data) < MIN_BYTES:
            continue
        for _ in range(3):  # quick the first time, the best level from the second on: the same bytes decoded
            resp = client.get(url, headers=headers)
            assert _check_encoded(plain, resp, coding) == plain.data, url
            assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert resp.mimetype == ("text/javascript" if kind == "js" else "text/css")


@pytest.mark.parametrize("url", ["/api/v1/meta", "/api/openapi.json", NEAREST.replace("k=8", "k=2")])
def test_json_is_compressed(client, url):
    plain = client.get(url)
    for coding, headers in (("br", BR), ("gzip", GZ)):
        assert _check_encoded(plain, client.get(url, headers=headers), coding) == plain.data


def test_csv_export_is_compressed(client):
    url = "/api/v1/export?format=csv&layer=districts"
    plain = client.get(url)
    assert plain.mimetype == "text/csv"
    assert _check_encoded(plain, client.get(url, headers=BR), "br") == plain.data


@pytest.mark.parametrize("url", ["/worker/facilities.geojson", "/worker/districts.geojson", "/api/v1/districts"])
def test_geojson_is_compressed_once_and_revalidated(client, url):
    plain = client.get(url)
    assert plain.mimetype == "application/geo+json" and plain.headers["ETag"].startswith('"')
    assert plain.headers["Cache-Control"].startswith("public, max-age=")
    for coding, headers in (("br", BR), ("gzip", GZ)):
        resp = client.get(url, headers=headers)
        assert _check_encoded(plain, resp, coding) == plain.data
        again = client.get(url, headers={**headers, "If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == resp.headers["ETag"]  # the variant the client holds
        assert "Accept-Encoding" in again.headers["Vary"]
    assert client.get(url, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={**BR, "If-None-Match": '"something-else-br"'}).status_code == 200


def test_lean_nearest_is_compressed_without_flask(sample_app, monkeypatch):
    client = sample_app.test_client()
    plain = client.get(NEAREST)
    calls = []
    flask_app = sample_app.wsgi_app.app

    def spy(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    monkeypatch.setattr(sample_app.wsgi_app, "app", spy)
    for coding, headers in (("br", BR), ("gzip", GZ)):
        resp = client.get(NEAREST, headers=headers)
        assert _check_encoded(plain, resp, coding) == plain.data
    assert calls == []  # answered by the lean handler
    post = client.post("/api/v1/nearest", json={"points": [[120.3843, 36.062]], "k": 8, "open_at": "any"},
                       headers=BR)
    plain_post = client.post("/api/v1/nearest", json={"points": [[120.3843, 36.062]], "k": 8, "open_at": "any"})
    assert _check_encoded(plain_post, post, "br") == plain_post.data


def test_without_accept_encoding_nothing_changes(sample_app):
    """A request without Accept-Encoding gets exactly what the app behind the pipeline answers."""
    behind = Client(sample_app.wsgi_app.serve)
    client = sample_app.test_client()
    for url in (NEAREST, "/api/v1/meta", "/worker/districts.geojson", "/healthz"):
        a, b = client.get(url), behind.get(url)
        assert a.status_code == b.status_code == 200
        assert a.data == b.data and sorted(a.headers.items()) == sorted(b.headers.items())
        assert "Content-Encoding" not in a.headers


def test_what_is_not_compressed(client):
    tiny = client.get("/healthz", headers=BR)  # text, but under MIN_BYTES: as is, still varying
    assert "Content-Encoding" not in tiny.headers and tiny.headers["Vary"] == "Accept-Encoding"
    assert len(tiny.data) == int(tiny.headers["Content-Length"]) < MIN_BYTES
    png = client.get("/static/vendor/leaflet/images/marker-icon-2x.png", headers=BR)  # an image: as is
    assert png.status_code == 200 and "Content-Encoding" not in png.headers and "Vary" not in png.headers
    identity = client.get("/api/v1/meta", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in identity.headers and identity.headers["Vary"] == "Accept-Encoding"
    refused = client.get("/api/v1/meta", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    head = client.head("/api/v1/meta", headers=BR)
    assert "Content-Encoding" not in head.headers and head.data == b""
    bad = client.get("/api/v1/nearest?lon=1&lat=2", headers=BR)  # the one error shape, readable either way
    assert bad.status_code == 400
    body = DECODE[bad.headers["Content-Encoding"]](bad.data) if "Content-Encoding" in bad.headers else bad.data
    assert b'"error"' in body


@pytest.mark.parametrize("header,expected", [
    ("gzip, deflate, br, zstd", "br"), ("gzip, deflate", "gzip"), ("br;q=0.5, gzip;q=0.8", "gzip"),
    ("br;q=0, *", "gzip"), ("*", "br"), ("identity", None), ("*;q=0", None), ("", None), ("deflate", None),
    ("gzip;q=0", None), ("BR", "br"), ("gzip;q=abc, br", "br"),
])
def test_coding_choice_follows_rfc_9110(header, expected):
    assert choose_coding(header) == expected


def test_large_bodies_get_the_best_level_from_a_thread(sample_app, monkeypatch):
    """Over SYNC_BEST_BYTES, the best encoding is made in a thread: the quick one is served meanwhile."""
    monkeypatch.setattr(compress, "SYNC_BEST_BYTES", 0)
    cache = compress.EncodedCache()
    monkeypatch.setattr(sample_app.wsgi_app.compression, "cache", cache)
    client = sample_app.test_client()
    url = "/worker/districts.geojson"
    plain = client.get(url).data
    sizes = []
    for _ in range(2):
        resp = client.get(url, headers=BR)
        assert brotli.decompress(resp.data) == plain
        assert resp.headers["ETag"].startswith('W/"') and resp.headers["ETag"].endswith('-br"')
        sizes.append(len(resp.data))
    quick_tag = resp.headers["ETag"]
    cache.wait(timeout=120)
    best = client.get(url, headers=BR)
    assert brotli.decompress(best.data) == plain
    assert len(best.data) < sizes[0] == sizes[1]  # quick twice (the second started the thread), then the best
    assert int(best.headers["Content-Length"]) == len(best.data)
    assert best.headers["ETag"] == quick_tag.removeprefix("W/")  # the best bytes carry the strong tag
    held = client.get(url, headers={**BR, "If-None-Match": quick_tag})  # a client holding the quick bytes
    assert held.status_code == 304 and held.headers["ETag"] == quick_tag


def test_cache_keeps_within_its_budget():
    cache = compress.EncodedCache(max_bytes=1000)
    for i in range(10):
        cache.put((f'"{i}"', "br", 1), b"x" * 300, True)
    kept = [i for i in range(10) if cache.get((f'"{i}"', "br", 1)) is not None]
    assert kept == [7, 8, 9]
