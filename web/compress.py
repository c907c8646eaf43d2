"""Compression of every text response (Brotli or gzip), done once, in the one request path.

:class:`Compression` wraps the WSGI application behind :class:`web.fastpath.RequestPipeline`
(the lean handlers and Flask alike); the pipeline hands it only the requests that carry an
``Accept-Encoding`` header, so a request without one costs that one dict lookup and nothing else.

* Which coding: Brotli when the client accepts ``br``, else gzip when it accepts ``gzip``
  (q-values honoured; ``*`` counts; a coding at ``q=0`` is refused). None: the body goes as is.
* What: responses whose media type is text (``text/*``, JSON, GeoJSON, JavaScript, XML, ``+json``,
  ``+xml``), of at least :data:`MIN_BYTES`, not already encoded, not partial (206) and not to ``HEAD``.
  Images, ZIP and GeoPackage downloads pass untouched (streamed, never buffered).
* Headers: ``Vary: Accept-Encoding`` on every text response to such a request (compressed or
  not); ``Content-Length`` of the encoded body; an ``ETag`` becomes ``"…-br"`` / ``"…-gzip"`` (the
  encoded bytes are another representation; weak, ``W/"…-br"``, while they are the quick encoding that
  the best one will replace), and an ``If-None-Match`` naming such a variant is read back as the plain
  tag before the app sees it, so revalidation gives ``304`` with the variant's tag.
* Once: a response with a strong ``ETag`` (static files, the GeoJSON layers) is compressed once
  per (tag, coding) and kept in :class:`EncodedCache` (LRU, :data:`CACHE_BYTES`): at the quick levels
  (Brotli 5, gzip 6) the first time, at the best levels (Brotli 11, gzip 9) from its second request
  on: at once up to :data:`SYNC_BEST_BYTES` (≤ ~0.2 s), else in a thread (Brotli 11 takes seconds on
  ~1 MB; brotli and zlib release the GIL, so requests go on meanwhile). Everything else is compressed
  per request at the quick levels (~0.3 ms for a 14 KB nearest answer).

Written here rather than taken from flask-compress: that is a Flask ``after_request`` hook, so it
would not see the lean handlers, which answer without Flask; and it keys its cache by request, not
by the representation's tag.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections import OrderedDict
from functools import lru_cache

import brotli

__all__ = ["CACHE_BYTES", "MIN_BYTES", "Compression", "EncodedCache", "choose_coding", "compressible", "encode"]

log = logging.getLogger(__name__)

#: Bodies smaller than this go as they are: they fit in one TCP segment with their headers either way.
MIN_BYTES = 1024
#: Memory for encoded bodies kept by ETag, per process.
CACHE_BYTES = 32 * 1024 * 1024
#: A body up to this size is encoded at the best level at once (≤ ~0.2 s); a larger one in a thread.
SYNC_BEST_BYTES = 256 * 1024
QUICK = {"br": {"quality": 5}, "gzip": {"compresslevel": 6}}
BEST = {"br": {"quality": 11}, "gzip": {"compresslevel": 9}}
#: Codings we produce, preferred first.
CODINGS = ("br", "gzip")

_TEXT_TYPES = frozenset({"application/json", "application/geo+json", "application/javascript", "application/xml",
                         "application/x-javascript", "application/ecmascript", "image/svg+xml"})
_VARIANT = re.compile(r'-(?:br|gzip)"')
_TAGS = re.compile(r'(?:W/)?"[^"]*"')


def encode(body: bytes, coding: str, *, best: bool = False) -> bytes:
    """``body`` in ``coding`` ("br" or "gzip"); gzip without a timestamp, so the bytes are reproducible."""
    level = (BEST if best else QUICK)[coding]
    if coding == "br":
        return brotli.compress(body, **level)
    return gzip.compress(body, mtime=0, **level)


@lru_cache(maxsize=256)
def choose_coding(accept_encoding: str) -> str | None:
    """The coding to send for an ``Accept-Encoding`` value (RFC 9110 §12.5.3), or ``None`` for identity.

    >>> choose_coding("gzip, deflate, br, zstd"), choose_coding("gzip"), choose_coding("br;q=0, gzip;q=0.5")
    ('br', 'gzip', 'gzip')
    >>> choose_coding("identity"), choose_coding("*;q=0"), choose_coding("*"), choose_coding("GZIP;Q=1.0")
    (None, None, 'br', 'gzip')
    """
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name.strip():
            weights[name.strip()] = q
    star = weights.get("*", 0.0)
    best = max(CODINGS, key=lambda c: weights.get(c, star))  # ties: the order of CODINGS
    return best if weights.get(best, star) > 0 else None


@lru_cache(maxsize=256)
def compressible(content_type: str) -> bool:
    """Whether a response of this ``Content-Type`` is text worth compressing.

    >>> [compressible(t) for t in ("text/html; charset=utf-8", "application/geo+json", "application/problem+json",
    ...                            "image/png", "application/zip", "application/geopackage+sqlite3")]
    [True, True, True, False, False, False]
    """
    media = content_type.partition(";")[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


class EncodedCache:
    """Encoded bodies by (strong ETag, coding, length), least recently used first out, within a byte budget.

    A body seen once is kept at the quick level (a one-off answer, e.g. a filtered query, costs no
    more than without the cache); seen again, it is re-encoded at the best level: at once up to
    :data:`SYNC_BEST_BYTES`, else in a thread while the quick bytes keep being served.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[bytes, bool]] = OrderedDict()  # key -> (data, best)
        self._size = 0
        self._lock = threading.Lock()
        self._pending: set[tuple] = set()
        self._threads: list[threading.Thread] = []

    def get(self, key: tuple) -> tuple[bytes, bool] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, data: bytes, best: bool) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._size -= len(old[0]) if old is not None else 0
            if len(data) > self.max_bytes:
                return
            self._items[key] = (data, best)
            self._size += len(data)
            while self._size > self.max_bytes:
                _, (dropped, _) = self._items.popitem(last=False)
                self._size -= len(dropped)

    def encoded(self, key: tuple, body: bytes, coding: str) -> tuple[bytes, bool]:
        """(``body`` in ``coding``, whether at the best level): from the cache, or made now (class docstring)."""
        item = self.get(key)
        if item is None:
            data = encode(body, coding)
            self.put(key, data, False)
            return data, False
        data, best = item
        if best:
            return data, True
        if len(body) <= SYNC_BEST_BYTES:
            data = encode(body, coding, best=True)
            self.put(key, data, True)
            return data, True
        with self._lock:
            start = key not in self._pending
            self._pending.add(key)
        if start:
            thread = threading.Thread(target=self._encode_best, args=(key, body, coding), daemon=True,
                                      name=f"encode-{coding}")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        return data, False

    def _encode_best(self, key: tuple, body: bytes, coding: str) -> None:
        try:
            self.put(key, encode(body, coding, best=True), True)
        except Exception:  # noqa: BLE001 - a thread: log it; the quick encoding keeps being served
            log.exception("encoding %s in %s failed", key[0], coding)
        finally:
            with self._lock:
                self._pending.discard(key)

    def wait(self, timeout: float | None = None) -> None:
        """Until the best encodings started so far are made (benchmarks and tests)."""
        for thread in list(self._threads):
            thread.join(timeout)


class Compression:
    """Compresses what ``app`` answers to a request with ``Accept-Encoding`` (see the module docstring)."""

    def __init__(self, app, cache: EncodedCache | None = None):
        self.app = app
        self.cache = cache if cache is not None else EncodedCache()

    def __call__(self, environ, start_response):
        coding = choose_coding(environ["HTTP_ACCEPT_ENCODING"])
        asked = environ.get("HTTP_IF_NONE_MATCH")
        variant = None
        if asked is not None and coding is not None and _VARIANT.search(asked):
            variant = asked  # the client holds an encoded variant: the app compares the plain tag
            environ["HTTP_IF_NONE_MATCH"] = _VARIANT.sub('"', asked)
        captured: list = []
        written: list[bytes] = []

        def capture(status, headers, exc_info=None):  # nothing is sent before the app returns
            captured[:] = [status, headers]
            return written.append

        result = self.app(environ, capture)
        if not captured or written:  # start_response on the first item (PEP 3333 allows it), or write()
            items = iter(result)
            first = [] if captured else [next(items, b"")]
            result = _chained([*written, *first], items, result)
        status, headers = captured
        fields = {k.lower(): v for k, v in headers}
        code = status[:3]
        if code == "304":  # the 304 of an encoded variant names the variant the client holds
            start_response(status, _with_variant(headers, fields, variant) if variant else headers)
            return result
        if not compressible(fields.get("content-type", "")) or "content-encoding" in fields:
            start_response(status, headers)
            return result
        headers = _with_vary(headers, fields)
        length = fields.get("content-length")
        if (coding is None or code in ("204", "206") or environ.get("REQUEST_METHOD") == "HEAD"
                or "content-range" in fields or (length is not None and length.isdigit() and int(length) < MIN_BYTES)):
            start_response(status, headers)
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if len(body) < MIN_BYTES:
            start_response(status, [(k, v) for k, v in headers if k.lower() != "content-length"]
                           + [("Content-Length", str(len(body)))])
            return [body]
        etag = fields.get("etag")
        if etag is not None and not etag.startswith("W/"):
            data, best = self.cache.encoded((etag, coding, len(body)), body, coding)
            if not best:  # the same content, other bytes than the best encoding that will follow: a weak tag
                etag = "W/" + etag
        else:
            data = encode(body, coding)
        out = [(k, v) for k, v in headers if k.lower() not in ("content-length", "etag")]
        out += [("Content-Encoding", coding), ("Content-Length", str(len(data)))]
        if etag is not None:
            out.append(("ETag", _variant_tag(etag, coding)))
        start_response(status, out)
        return [data]


def _variant_tag(etag: str, coding: str) -> str:
    return f'{etag[:-1]}-{coding}"' if etag.endswith('"') else etag


def _with_variant(headers, fields: dict, asked: str) -> list:
    """A 304's headers with the tag of ``If-None-Match`` (``asked``) that matched the app's tag."""
    etag = fields.get("etag")
    plain = etag.removeprefix("W/") if etag is not None else None
    held = [t for t in _TAGS.findall(asked) if _VARIANT.sub('"', t).removeprefix("W/") == plain]
    if not held:
        return headers
    return _with_vary([(k, v) for k, v in headers if k.lower() != "etag"] + [("ETag", held[0])], fields)


def _with_vary(headers, fields: dict) -> list:
    vary = fields.get("vary")
    if vary is None:
        return [*headers, ("Vary", "Accept-Encoding")]
    if "accept-encoding" in vary.lower() or vary.strip() == "*":
        return headers
    return [(k, v) for k, v in headers if k.lower() != "vary"] + [("Vary", f"{vary}, Accept-Encoding")]


def _chained(first: list[bytes], items, original):
    try:
        yield from first
        yield from items
    finally:
        if hasattr(original, "close"):
            original.close()
