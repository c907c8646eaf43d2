"""tests/pgserver.py: a throwaway PostgreSQL + PostGIS cluster starts, clones independent PostGIS databases from
its template, and stops without leaving files or a listening port behind.

Skipped when this machine cannot run one (no server binaries, no PostGIS), except under CI (CI=true), where a
missing declared test tool is a failure.
"""

from __future__ import annotations

import pytest

from tests.conftest import require
from tests.pgserver import TEMPLATE, PostgresServer, available, port_is_free

try:
    import psycopg
except ImportError:  # available() reports it; the fixture skips or fails
    psycopg = None


@pytest.fixture(scope="module")
def cluster():
    require(available())
    with PostgresServer() as pg:
        yield pg


@pytest.fixture
def server(cluster):
    """The module's server, restarted if a test stopped it (so test order does not matter)."""
    if not cluster.running:
        cluster.start()
    return cluster


def scalar(url: str, query: str):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def test_require_skips_locally_but_fails_under_ci(monkeypatch):
    require(None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no binaries"):
        require("no binaries")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI: no binaries"):
        require("no binaries")


def test_server_is_up_with_a_postgis_template(server):
    assert server.running and server.data_dir.is_dir()
    assert server.url() == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    assert 0 < server.port < 32768 and not port_is_free(server.port)
    assert scalar(server.url(), "SELECT current_setting('server_version_num')::int / 10000") >= 15
    assert scalar(server.url(), f"SELECT datistemplate FROM pg_database WHERE datname = '{TEMPLATE}'") is True


def test_databases_from_the_template_have_postgis_and_are_independent(server):
    a, b = server.create_database(), server.create_database()
    assert a != b and a.startswith(server.url(""))
    try:
        for url in (a, b):
            assert scalar(url, "SELECT ST_AsText(ST_MakePoint(120.38, 36.06))") == "POINT(120.38 36.06)"
            assert scalar(url, "SELECT postgis_version()").startswith("3")
        with psycopg.connect(a, autocommit=True) as conn:
            conn.execute("CREATE TABLE station (id text PRIMARY KEY, geom geometry(Point, 4326))")
            conn.execute("INSERT INTO station VALUES ('t-001', ST_SetSRID(ST_MakePoint(120.38, 36.06), 4326))")
        assert scalar(a, "SELECT count(*) FROM station") == 1
        assert scalar(b, "SELECT to_regclass('station')") is None
        assert scalar(server.url(TEMPLATE), "SELECT to_regclass('station')") is None
    finally:
        server.drop_database(a)  # by URL
        server.drop_database(b.rsplit("/", 1)[1])  # by name
    names = scalar(server.url(), "SELECT array_agg(datname::text) FROM pg_database")
    assert a.rsplit("/", 1)[1] not in names and b.rsplit("/", 1)[1] not in names and TEMPLATE in names


def test_drop_database_closes_open_sessions_and_refuses_system_databases(server):
    url = server.create_database("test_named_db")
    with psycopg.connect(url, autocommit=True) as conn:
        server.drop_database(url)  # WITH (FORCE) terminates this session
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    for name in ("postgres", "template1", TEMPLATE, "Robert'); DROP TABLE x; --"):
        with pytest.raises(ValueError):
            server.drop_database(name)
    with pytest.raises(ValueError):
        server.create_database(TEMPLATE)


def test_stop_removes_the_directory_and_frees_the_port(server):
    root, port = server.root, server.port
    assert root.is_dir() and not port_is_free(port)
    server.stop()
    assert not server.running
    assert not root.exists()
    assert port_is_free(port)
    server.stop()  # idempotent
