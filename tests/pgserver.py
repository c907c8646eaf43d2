"""A throwaway PostgreSQL + PostGIS cluster for tests and benchmarks.

    with PostgresServer() as pg:            # initdb + pg_ctl start, in a fresh temporary directory
        url = pg.create_database()          # a new database cloned from the PostGIS-enabled template
        ...                                 # psycopg.connect(url), or hand `url` to the code under test
        pg.drop_database(url)
    # stopped (fast shutdown) and its directory removed

The cluster listens on 127.0.0.1 only, on a free port below the ephemeral range, with its Unix socket inside its
own temporary directory and ``trust`` authentication for the superuser ``postgres``. It runs with the server's
default settings (durable, fsync on), so benchmarks against it are meaningful; ``initdb`` skips its final fsync.
Running as root, the binaries run as the ``postgres`` system user through ``runuser`` (initdb refuses root).

``available()`` says whether this machine can run one (``None``) or why not (a one-line reason).
``python -m tests.pgserver`` starts one, prints its URL and keeps it up until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["TEMPLATE", "PostgresServer", "available", "find_bin_dir", "port_is_free"]

TEMPLATE = "workermap_template"
"""The database every ``create_database`` clones: empty apart from ``CREATE EXTENSION postgis``."""

SUPERUSER = "postgres"
PORT_RANGE = (20000, 32768)  # below Linux's ephemeral range (32768-60999), above the usual fixed service ports
START_ATTEMPTS = 8
_BINARIES = ("initdb", "pg_ctl", "postgres")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PROTECTED = frozenset({"postgres", "template0", "template1", TEMPLATE})
_random = secrets.SystemRandom()  # not the global `random`, which test tools (hypothesis) seed


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and postgres; else the PATH's; else None."""
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.replace(".", "").isdigit()),
        key=lambda p: tuple(int(x) for x in p.parent.name.split(".")),
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for d in candidates:
        if all(os.access(d / b, os.X_OK) for b in _BINARIES):
            return d
    return None


def _share_dir(bin_dir: Path) -> Path | None:
    """The installation's share directory (where extension/*.control live), from pg_config or Debian's layout."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True,
                             timeout=10, check=True, stdin=subprocess.DEVNULL)
        if out.stdout.strip():
            return Path(out.stdout.strip())
    if bin_dir.parent.parent == Path("/usr/lib/postgresql"):
        return Path("/usr/share/postgresql") / bin_dir.parent.name
    return None


def available(bin_dir: str | os.PathLike | None = None) -> str | None:
    """None if a PostgreSQL + PostGIS server can be started here, else a one-line reason why not."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the Python driver psycopg (3) is not installed"
    found = Path(bin_dir) if bin_dir else find_bin_dir()
    if found is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin or on PATH"
    missing = [b for b in _BINARIES if not os.access(found / b, os.X_OK)]
    if missing:
        return f"{found} lacks {', '.join(missing)}"
    share = _share_dir(found)
    control = share / "extension" / "postgis.control" if share else None
    if control is None or not control.is_file():
        return f"the PostGIS extension is not installed for the server in {found} (no {control or 'postgis.control'})"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, but there is no runuser to drop to the postgres user (initdb refuses root)"
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root, but there is no 'postgres' system user to run the server as"
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (bound with SO_REUSEADDR, as PostgreSQL itself does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    for _ in range(200):
        port = _random.randrange(*PORT_RANGE)
        if port_is_free(port, host):
            return port
    raise RuntimeError(f"no free TCP port in {PORT_RANGE[0]}-{PORT_RANGE[1] - 1} on {host}")


def _env() -> dict[str, str]:
    """The environment for the binaries: ours without PG* (PGDATA, PGPORT, ...) or locale variables, so messages
    are in English (start() recognises a port clash by the log's wording)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and not k.startswith("LC_")}
    env["LANG"] = "C"
    return env


def _run(argv: list[str], *, as_postgres: bool, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    if as_postgres:
        argv = ["runuser", "-u", SUPERUSER, "--", *argv]
    return subprocess.run(argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _shutdown(pg_ctl: str, data: Path, root: Path, as_postgres: bool) -> None:
    """Stop the cluster in `data` (fast, then immediate) if it runs, and remove `root`. Safe to call repeatedly."""
    if (data / "postmaster.pid").exists():
        for mode in ("fast", "immediate"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                if _run([pg_ctl, "-D", str(data), "-m", mode, "-w", "-t", "30", "stop"], as_postgres=as_postgres,
                        cwd=root, timeout=60).returncode == 0:
                    break
    shutil.rmtree(root, ignore_errors=True)


class PostgresServer:
    """One throwaway PostgreSQL cluster with a PostGIS template database; see the module docstring.

    ``start()`` returns the server itself; ``stop()`` is idempotent and also runs when the object is garbage
    collected or the interpreter exits, so a failing test cannot leave a cluster behind (short of SIGKILL).
    """

    host = "127.0.0.1"

    def __init__(self, *, bin_dir: str | os.PathLike | None = None):
        self.bin_dir = Path(bin_dir) if bin_dir else find_bin_dir()
        self.port: int | None = None
        self.root: Path | None = None  # the temporary directory: data/, log, the Unix socket
        self._as_postgres = os.geteuid() == 0
        self._finalizer: weakref.finalize | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._finalizer is not None and self._finalizer.alive

    @property
    def data_dir(self) -> Path | None:
        return self.root / "data" if self.root else None

    @property
    def log_file(self) -> Path | None:
        return self.root / "log" if self.root else None

    def start(self) -> PostgresServer:
        """initdb a fresh cluster in a temporary directory, start it, and create the PostGIS template database."""
        if self.running:
            raise RuntimeError(f"already running on port {self.port}")
        reason = available(self.bin_dir)
        if reason:
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        self.root = Path(tempfile.mkdtemp(prefix="pgserver-"))
        self._finalizer = weakref.finalize(self, _shutdown, str(self.bin_dir / "pg_ctl"), self.data_dir, self.root,
                                           self._as_postgres)
        try:
            if self._as_postgres:
                pw = pwd.getpwnam(SUPERUSER)
                os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._check(self._pg("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER,
                                 "--no-locale", "-E", "UTF8", "--no-sync"), "initdb")
            self._start_on_free_port()
            self._execute("postgres", f'CREATE DATABASE "{TEMPLATE}"')
            self._execute(TEMPLATE, "CREATE EXTENSION postgis")
            self._execute("postgres", f'ALTER DATABASE "{TEMPLATE}" IS_TEMPLATE true')
        except BaseException:
            self.stop()
            raise
        return self

    def _start_on_free_port(self) -> None:
        """pg_ctl start on a free port; if another process takes the port meanwhile, try another one."""
        for _ in range(START_ATTEMPTS):
            self.port = _free_port(self.host)
            options = f"-p {self.port} -k {shlex.quote(str(self.root))} -c listen_addresses={self.host}"
            proc = self._pg("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_file),
                            "-w", "-t", "60", "start")
            if proc.returncode == 0:
                return
            log = self._log_tail()
            if "could not bind" not in log and "already in use" not in log:
                self._check(proc, "pg_ctl start")
            self.log_file.unlink(missing_ok=True)
        raise RuntimeError(f"PostgreSQL did not find a free port after {START_ATTEMPTS} attempts")

    def stop(self) -> None:
        """Fast shutdown and removal of the temporary directory. Does nothing if not running (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url()}" if self.running else "stopped"
        return f"<PostgresServer {self.bin_dir} {state}>"

    # -- databases ---------------------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        """postgresql://postgres@127.0.0.1:PORT/dbname (trust authentication: no password)."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """CREATE DATABASE `name` (default: a fresh unique name) TEMPLATE workermap_template; returns its URL."""
        name = name or f"test_{secrets.token_hex(6)}"
        if not _NAME.fullmatch(name) or name in _PROTECTED:
            raise ValueError(f"not a usable database name: {name!r} (lower-case letters, digits, _)")
        self._execute("postgres", f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.url(name)

    def drop_database(self, name_or_url: str) -> None:
        """DROP DATABASE IF EXISTS ... WITH (FORCE): open sessions on it are terminated. Accepts a name or a URL."""
        name = unquote(urlsplit(name_or_url).path.lstrip("/")) if "://" in name_or_url else name_or_url
        if not _NAME.fullmatch(name) or name in _PROTECTED:
            raise ValueError(f"refusing to drop {name!r}")
        self._execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- helpers -----------------------------------------------------------------------------------------------
    def _execute(self, dbname: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=30) as conn:
            conn.execute(statement)

    def _pg(self, binary: str, *args: str) -> subprocess.CompletedProcess:
        return _run([str(self.bin_dir / binary), *args], as_postgres=self._as_postgres, cwd=self.root)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            detail = "\n".join(s.strip() for s in (proc.stdout, proc.stderr, self._log_tail()) if s.strip())
            raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pgserver", description=(
        "Start a throwaway PostgreSQL + PostGIS server, print its URL on stdout and keep it up until Ctrl-C or "
        "SIGTERM; then stop it and remove its files."))
    parser.add_argument("--bin-dir", help="PostgreSQL bin directory (default: newest /usr/lib/postgresql/*/bin)")
    parser.add_argument("--createdb", metavar="NAME", nargs="?", const="workermap", help=(
        "also create a database (default name: workermap) from the PostGIS template and print its URL instead"))
    args = parser.parse_args(argv)

    reason = available(args.bin_dir)
    if reason:
        print(f"pgserver: {reason}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        t0 = time.perf_counter()
        with PostgresServer(bin_dir=args.bin_dir) as pg:
            url = pg.create_database(args.createdb) if args.createdb else pg.url()
            print(f"pgserver: started in {time.perf_counter() - t0:.2f}s, data in {pg.root}; template database "
                  f"{TEMPLATE} has PostGIS; Ctrl-C or SIGTERM stops it", file=sys.stderr)
            with contextlib.suppress(BrokenPipeError):
                print(url, flush=True)
            while not stopping.wait(3600):
                pass
            print("pgserver: stopping", file=sys.stderr)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
