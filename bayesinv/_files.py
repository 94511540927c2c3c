"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file bayesinv writes goes through :func:`atomic_path` (checkpoints, streamed draws,
replicate results, manifests, studies, tables, reports, figures, eigenpair caches): the
content is written to a temporary file in the target's directory (same file system, so the
rename is atomic), flushed to disk, then ``os.replace``-d onto the target. An exception
removes the temporary file; a killed process can leave one behind
(``.<name>.<pid>@<host>.<random>.tmp``, see :func:`temporary_owner`), which nothing reads.
The host is in the name because directories on a cluster's shared file system are written
by processes on several nodes.

Symbolic links are never followed into: the temporary file is created by
:func:`tempfile.mkstemp` (``O_CREAT | O_EXCL``, an unpredictable name, so nothing can be
planted under it beforehand), it is re-opened with ``O_NOFOLLOW`` and checked to be the very
file created before it is renamed, and ``os.replace`` replaces a symbolic link at the target
name by the file rather than writing through it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 elsewhere."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path; on success it is fsync'ed and renamed onto
    ``path`` (parent directories are created). On an exception the target is untouched.

    The temporary file exists (empty, mode 0600) when the path is yielded; the caller writes
    to it by name. Before the rename it is re-opened with ``O_NOFOLLOW`` and compared (device
    and inode) with the file created: a temporary swapped for a symbolic link or another
    file in the meantime raises ``OSError`` and nothing is renamed. The final file gets the
    usual mode (0666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{socket.gethostname()}.",
                                suffix=".tmp", dir=path.parent)
    created = os.fstat(fd)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (created.st_dev, created.st_ino) \
                    or not stat.S_ISREG(now.st_mode):
                raise OSError(f"temporary file {name!r} was replaced while being written")
            os.fchmod(fd, 0o666 & ~_umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()


def temporary_owner(tmp) -> tuple[int, str] | None:
    """(pid, host) of the process writing the temporary file ``tmp`` of :func:`atomic_path`,
    or None for a name of another form."""
    stem = Path(tmp).name
    if not (stem.startswith(".") and stem.endswith(".tmp")):
        return None
    rest, _, host_random = stem[1:-4].rpartition("@")
    host = host_random.rpartition(".")[0]
    pid = rest.rpartition(".")[2]
    return (int(pid), host) if host and pid.isdigit() else None


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=2))
