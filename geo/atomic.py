"""Files written whole or not at all: a unique temporary file in the same folder, fsync, rename, fsync the folder.

Readers (another worker, a person, GDAL) see the old file or the new one, never a part;
a writer killed half-way leaves at most its own uniquely named ``.*.tmp`` file, which
the next write to the same target removes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | Path, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically (see the module docstring); ``mode`` less the umask,
    as ``open`` would give.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "grid.csv.gz"
    >>> atomic_write(p, b"one"); atomic_write(p, b"two"); p.read_bytes(), sorted(x.name for x in p.parent.iterdir())
    (b'two', ['grid.csv.gz'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    for stale in path.parent.glob(f"{prefix}*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
