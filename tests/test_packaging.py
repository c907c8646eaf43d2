"""A plain (not editable) install works: the wheel carries the shipped data, the templates and the static files.

The wheel is built offline from a copy of the source tree (``pip wheel --no-deps --no-build-isolation``), installed
into a fresh venv that sees the system site-packages for the dependencies (``pip install --no-deps --no-index``),
and run as its own ``bin/workermap`` from a working directory outside the repository: ``validate`` and ``serve``
must work on the shipped sample.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from geo.settings import SHIPPED_DATA, SHIPPED_PACKAGE, Settings, _copy_out, shipped_data_dir

ROOT = Path(__file__).resolve().parent.parent
WHEEL_MAX_BYTES = 4_000_000  # about 1.9 MB now: the sample, districts and demand grid, plus the vendored JS
#: not copied for the build: VCS, build output, working data, tests and benchmarks (not in the wheel anyway)
SKIP_TOP = {".git", "build", "dist", "instance", "tests", "bench", "test-output", "test-results", ".pytest_cache",
            ".hypothesis", ".ruff_cache", ".venv", "venv"}


def _unavailable(reason: str) -> None:
    """Skip; under CI (CI=true) fail instead: the packaging check must run there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"packaging test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _clean_env() -> dict[str, str]:
    """The environment for the installed copy: no PYTHONPATH, user site or WORKERMAP_* settings leaking in."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("WORKERMAP_")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _ignore(directory: str, names: list[str]) -> set[str]:
    top = Path(directory).resolve() == ROOT
    return {n for n in names if (top and n in SKIP_TOP) or n == "__pycache__" or n.endswith((".egg-info", ".pyc"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of the tree (no stale build/ dir, nothing written into the tree)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=_ignore, symlinks=True)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-q", "-w", str(work / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0 and "bdist_wheel" in out.stdout + out.stderr:
        _unavailable("this setuptools cannot build wheels offline (needs setuptools>=70.1, or the wheel package "
                     "before 0.46)")
    assert out.returncode == 0, out.stdout + out.stderr
    (built,) = (work / "dist").glob("workermap-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; dependencies come from the system site-packages."""
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        _unavailable(f"python -m venv is unavailable: {made.stderr.strip()[-300:]}")
    python = env_dir / "bin" / "python"
    # the system pip (seen through the system site-packages) installs into the venv's prefix; --ignore-installed:
    # the editable install of the project in the system site-packages must not count as "already satisfied"
    out = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                          "--disable-pip-version-check", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=300, env=_clean_env(), cwd=env_dir.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    return env_dir


def test_wheel_has_the_shipped_data_and_the_web_assets_and_no_build_scripts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package_dir = SHIPPED_PACKAGE.replace(".", "/")
    shipped = [p.relative_to(SHIPPED_DATA).as_posix() for p in SHIPPED_DATA.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    assert {"sample_facilities.geojson", "qingdao_districts_wgs84.geojson", "demand_grid_250m.csv.gz",
            "reference/qingdao_townships.csv"} <= set(shipped)
    for rel in shipped:
        assert f"{package_dir}/{rel}" in names, f"{rel} is not in the wheel"
    for folder in (ROOT / "web" / "templates", ROOT / "web" / "static"):
        for p in folder.rglob("*"):
            if p.is_file():
                assert p.relative_to(ROOT).as_posix() in names, f"{p.relative_to(ROOT)} is not in the wheel"
    assert {"geo/store/sql/gpkg/0001_registry.sql", "geo/store/sql/postgis/0001_registry.sql"} <= names
    # data/ keeps the provenance record, the build scripts and the city outline: none of it is installed
    for name in ("build_districts.py", "build_demand.py", "qingdao_city_wgs84.geojson", "README.md"):
        assert not [n for n in names if n.endswith("/" + name) and not n.startswith("web/")], name
    assert not [n for n in names if n.split("/")[0] in ("data", "tests", "bench")]
    assert wheel.stat().st_size < WHEEL_MAX_BYTES


def test_installed_wheel_validates_and_serves_the_shipped_sample(venv, tmp_path):
    env = _clean_env()
    python, workermap = venv / "bin" / "python", venv / "bin" / "workermap"
    where = subprocess.run([str(python), "-c", "import geo, web, geo.settings as s; "
                            "print(geo.__file__); print(web.__file__); print(s.shipped_data_dir())"],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=True)
    for path in where.stdout.split():  # the venv's own copy, not the editable source tree
        assert Path(path).resolve().is_relative_to(venv.resolve()), where.stdout

    data_dir = tmp_path / "D"
    out = subprocess.run([str(workermap), "--data-dir", str(data_dir), "validate"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK, 1676 facilities" in out.stdout

    # the default data directory is ./instance of the working directory, not inside the installed package
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = subprocess.run([str(workermap), "validate"], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    assert out.returncode == 0 and "OK, 1676 facilities" in out.stdout, out.stdout + out.stderr
    assert (cwd / "instance" / "workermap.gpkg").is_file()
    assert not list(venv.rglob("workermap.gpkg"))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(workermap), "--data-dir", str(data_dir), "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                    health = json.loads(r.read())
                    assert r.status == 200
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("server did not start:\n" + (tmp_path / "serve.log").read_text()[-3000:])
                time.sleep(0.25)
        assert health["status"] == "ok" and health["facilities"] == 1676

        with urllib.request.urlopen(base + "/api/v1/nearest?lon=120.38&lat=36.07&open_at=any", timeout=30) as r:
            assert r.status == 200
            assert json.loads(r.read())
        with urllib.request.urlopen(base + "/", timeout=30) as r:  # a template
            assert r.status == 200 and b"<html" in r.read().lower()
        with urllib.request.urlopen(base + "/static/vendor/leaflet/leaflet.js", timeout=30) as r:  # vendored JS
            assert r.status == 200
            assert r.read() == (ROOT / "web" / "static" / "vendor" / "leaflet" / "leaflet.js").read_bytes()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


# ---------------------------------------------------------------- settings: where the shipped data is found


def test_shipped_dir_defaults_to_the_package_data_and_the_env_overrides_it(tmp_path):
    from importlib import resources

    assert Settings().shipped_dir == Path(resources.files(SHIPPED_PACKAGE)) == SHIPPED_DATA
    assert (Settings().sample_path).is_file() and Settings().districts_path.is_file()
    s = Settings.from_env({"WORKERMAP_SHIPPED_DIR": str(tmp_path)})
    assert s.shipped_dir == tmp_path and s.sample_path == tmp_path / "sample_facilities.geojson"


def test_default_data_dir_is_instance_in_the_working_directory(tmp_path, monkeypatch):
    s = Settings.from_env({})
    assert s.data_dir == Path("instance") and not s.data_dir.is_absolute()  # resolved when used, not at import
    monkeypatch.chdir(tmp_path)
    assert s.imported_demand_path.resolve() == tmp_path / "instance" / "demand_grid.csv.gz"


def test_importing_settings_reads_nothing():
    code = "import sys, geo.settings; print('geo.shipped' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_shipped_data_from_a_zip_is_copied_out(tmp_path):
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("geo/shipped/__init__.py", "")
        zf.writestr("geo/shipped/sample_facilities.geojson", "{}")
        zf.writestr("geo/shipped/reference/qingdao_townships.csv", "a,b\n")
    out = _copy_out(zipfile.Path(archive, "geo/shipped/"))
    assert (out / "sample_facilities.geojson").read_text() == "{}"
    assert (out / "reference" / "qingdao_townships.csv").read_text() == "a,b\n"
    assert not (out / "__init__.py").exists()
    assert shipped_data_dir() == SHIPPED_DATA  # the cached lookup is untouched
