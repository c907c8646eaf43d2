"""Every command, given bad input, fails in a few lines with a non-zero status: never a traceback.

The cases cover every command of the group (a new command without a case fails
``test_every_command_has_bad_input_cases``). Bad option values, missing or unreadable files, unknown ids,
output paths that cannot be written, and a database that cannot be reached (given after the command).
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cli import main
from tests.conftest import write_registry

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"
NEAR = ["--lon", "120.3843", "--lat", "36.062"]

# command -> cases; in the arguments, {file} is an existing plain file, {tmp} a fresh folder,
# {csv} a valid import file, {garbage} a CSV that is neither facilities nor demand points
BAD: dict[str, list[list[str]]] = {
    "serve": [["--worker-class", "eventlet"], ["--port", "70000"], ["--workers", "0"]],
    "validate": [["--data-dir", "{file}"]],
    "import": [["{tmp}/missing.csv"], ["{csv}", "--crs", "utm"], ["{garbage}"], ["{tmp}"]],
    "export": [["--format", "shapefile", "--out", "{tmp}/x.shp"], ["--out", "{file}/x.geojson"],
               ["--kind", "spaceport", "--out", "{tmp}/x.csv"], ["--crs", "gcj02", "--out", "{tmp}/x.geojson"],
               ["--out", "{tmp}"]],
    "sample": [["--seed", "x"], ["--count", "5"], ["--region", "999999", "--out", "{tmp}/x.geojson"],
               ["--region", "370000"], ["--region", "370000", "--count", "0", "--out", "{tmp}/x.geojson"]],
    "import-demand": [["{tmp}/missing.csv"], ["{garbage}"], ["{file}.tif"]],
    "nearest": [["--lon", "x", "--lat", "36"], ["--lon", "0", "--lat", "0"], ["--lon", "nan", "--lat", "36"],
                [*NEAR, "-k", "0"], [*NEAR, "--open-at", "yesterday"], [*NEAR, "--amenity", "sauna"],
                [*NEAR, "--crs", "utm"], ["--lon", "36.07", "--lat", "120.38"], ["--lon", "116.4", "--lat", "39.9"]],
    "search": [[""], ["  "], ["x" * 501], ["Shinan", "--limit", "0"], ["Shinan", "--limit", "51"], []],
    "token add": [["bad name!"], []],
    "token revoke": [["nobody"]],
    "token list": [["--data-dir", "{file}"]],
    "edit": [["nonsense-id", "status=open"], ["t-001", "status"], ["t-001", "colour=red"], ["t-001", "lat=abc"],
             ["t-001", "status=exploded"], ["t-001", "lon=120.4", "--crs", "utm"]],
    "remove": [["nonsense-id"], []],
    "history": [["--data-dir", "{file}"]],
    "restore": [["0"], ["999"], ["x"]],
    "audit": [["--limit", "0"]],
    "gaps": [["--district", "Atlantis"], ["--out", "{tmp}/x.shp"], ["--minutes", "10", "--threshold-m", "500"],
             ["--mode", "car"], ["--open-at", "0001-01-01T00:00+14:00"], ["--hours", "--date", "tomorrow"],
             ["--amenity", "sauna"]],
    "plan": [["--add", "0"], ["--add", "2", "--method", "exact"], ["--add", "1", "--exclude", "{garbage}"],
             ["--add", "1", "--candidates", "{garbage}"], ["--add", "1", "--out", "{file}/s.csv"]],
    "whatif": [["--close", "nonsense-id"], [], ["--add", "1,2"], ["--add", "x"], ["--remove", "t-001", "--kind", "x"]],
    "report": [["--out", "{file}/r"], ["--out", "{tmp}/r", "--date", "tomorrow"], ["--out", "{tmp}/r", "--add", "-1"]],
    "reports list": [["--status", "closed"], ["--limit", "0"]],
    "reports resolve": [["999"], ["0"], ["x"], ["1", "--set", "status"], ["1", "--note", "x" * 501]],
    "access": [["--decay", "linear"], ["--district", "Atlantis"], ["--minutes", "10", "--threshold-m", "500"],
               ["--out", "{file}/x.csv"]],
    "usage import": [["{tmp}/missing.csv"], ["{garbage}"], ["{csv}"], ["{tmp}"]],
    "usage show": [["--since", "tomorrow"], ["--district", "Atlantis"], ["--kind", "castle"]],
    "recommend": [["--underused", "2"], ["--night-share", "-1"], ["--district", "Atlantis"]],
    "osm import": [["{tmp}/missing.osm.pbf"], ["{garbage}"], ["{tmp}"], ["{csv}", "--clip-to-city"]],
    "osm info": [["--data-dir", "{tmp}"], ["--data-dir", "{file}"]],
}

# every command that opens the registry, with otherwise good arguments: the database cannot be reached
REACHES_THE_STORE: dict[str, list[str]] = {
    "serve": ["--port", "1"], "validate": [], "import": ["{csv}"], "export": ["--out", "{tmp}/x.geojson"],
    "nearest": NEAR, "search": ["Shinan"], "token add": ["carol"], "token revoke": ["carol"], "token list": [],
    "edit": ["t-001", "status=maintenance"], "remove": ["t-001"], "history": [], "restore": ["1"], "audit": [],
    "gaps": [], "plan": ["--add", "1"], "whatif": ["--close", "t-001"], "report": ["--out", "{tmp}/r"],
    "reports list": [], "reports resolve": ["1"],
    "access": [], "usage import": ["{csv}"], "usage show": [], "recommend": [],
}


def _leaves(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield " ".join((*path, name))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-errors")
    write_registry(root / "instance" / "facilities.geojson")
    (root / "a-file").write_text("not a folder", encoding="utf-8")
    (root / "a-file.tif").write_text("not a GeoTIFF", encoding="utf-8")
    (root / "ok.csv").write_text("name,kind,lon,lat\n新驿站,station,120.39,36.07\n", encoding="utf-8")
    (root / "garbage.csv").write_bytes(b"a,b\n1,2\n\xff\xfe\x00")
    return {"data": str(root / "instance"), "file": str(root / "a-file"), "csv": str(root / "ok.csv"),
            "garbage": str(root / "garbage.csv"), "root": str(root)}


def _run(runner, files, tmp_path, command: str, args: list[str], *, database_url: str | None = None):
    fill = {"file": files["file"], "tmp": str(tmp_path), "csv": files["csv"], "garbage": files["garbage"]}
    argv = [*command.split(), *(a.format(**fill) for a in args)]
    if database_url:
        argv += ["--database-url", database_url]
    r = runner.invoke(main, ["--data-dir", files["data"], *argv], catch_exceptions=False)
    return argv, r


def _assert_short_failure(argv, r) -> None:
    assert r.exit_code not in (0, None), (argv, r.output)
    assert "Traceback" not in r.output, (argv, r.output)
    lines = r.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 5, (argv, r.stderr)
    assert any(line.lower().startswith(("error", "refused", "invalid")) for line in lines), (argv, r.stderr)


def test_every_command_has_bad_input_cases():
    assert set(BAD) == set(_leaves(main))
    assert set(REACHES_THE_STORE) == set(_leaves(main)) - {"sample", "import-demand", "osm import", "osm info"}


@pytest.mark.parametrize(("command", "args"), [(c, a) for c, cases in BAD.items() for a in cases],
                         ids=[f"{c}:{' '.join(a)}" for c, cases in BAD.items() for a in cases])
def test_bad_input_is_a_short_error(runner, files, tmp_path, command, args):
    argv, r = _run(runner, files, tmp_path, command, args)
    _assert_short_failure(argv, r)


@pytest.mark.parametrize("command", sorted(REACHES_THE_STORE))
def test_an_unreachable_database_is_one_line(runner, files, tmp_path, command):
    argv, r = _run(runner, files, tmp_path, command, REACHES_THE_STORE[command], database_url=UNREACHABLE)
    _assert_short_failure(argv, r)
    assert r.exit_code == 2 and r.stderr.startswith(f"error: registry database {UNREACHABLE}"), r.stderr


def test_nothing_was_written_by_the_failures(runner, files):
    r = runner.invoke(main, ["--data-dir", files["data"], "history"], catch_exceptions=False)
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 1, r.output  # still version 1 only
    assert not Path(files["data"], "demand_grid.csv.gz").exists()
