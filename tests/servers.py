"""Real `workermap serve --prod` processes for tests: a free port, start, stop (with the server's stderr)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, *extra: str, database_url: str = "", env: dict | None = None,
                 umask: int = -1) -> subprocess.Popen:
    """``workermap --data-dir D [--database-url U] serve --prod --port P EXTRA…`` as a child process."""
    argv = [sys.executable, "-m", "cli", "--data-dir", str(data_dir)]
    if database_url:
        argv += ["--database-url", database_url]
    argv += ["serve", "--prod", "--port", str(port), *extra]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            umask=umask)


def stop_server(proc: subprocess.Popen) -> tuple[str, str]:
    """Terminate (then kill if it hangs); the server's stdout and stderr."""
    proc.terminate()
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
