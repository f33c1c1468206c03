"""Writing files atomically: into a temporary file beside the target, then one rename.

A reader never sees a half-written file, and a failed or interrupted write leaves any
earlier file at that path intact (the temporary file is removed).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_write(path) as f:
    ...     _ = f.write("done\\n")
    >>> open(path).read()
    'done\\n'
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def file_mode(path):
    """The permission bits a new file at ``path`` should get: those of the file it replaces,
    else the usual ones under the current umask (mkstemp would give 0600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8", newline=None):
    """A file object to write ``path`` through; it replaces ``path`` only on success."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding,
                       newline=None if binary else newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
