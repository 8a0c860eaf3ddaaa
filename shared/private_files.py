"""Files that hold personal data (databases, the SMS sink, logs, the data key) are readable by their owner only.

Each process of Lotse sets an owner-only umask before it writes anything (`owner_only_from_now`), so every file and
directory it creates, including ones made by libraries (SQLite's -wal and -shm, Celery beat's schedule, a rotated
log), is 0600/0700. The places that create personal data files also say so themselves (`private_file`), which
covers a process started with another umask and tightens a file an older version left readable to others.
"""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def owner_only_from_now() -> None:
    """Every file and directory this process creates from now on is its owner's alone."""
    os.umask(OWNER_ONLY_UMASK)


def private_directory(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only; an existing directory is left as it is (it may be a
    directory the operator chose, such as VAR_DIR in a container volume)."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists and only its owner may read or write it (created 0600, or tightened to 0600).

    An existing file is never opened here, only chmod-ed by name: these files are SQLite databases that other
    connections of this same process may hold open, and closing any descriptor of a file drops every POSIX lock
    the process holds on it (SQLite's "How to corrupt": a close() by another thread). Two processes then wrote the
    embedded broker's file at once and corrupted it ("database disk image is malformed"). A new file is created
    exclusively (O_EXCL), so the descriptor closed is one nobody else can have used."""
    private_directory(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        os.chmod(path, FILE_MODE)
    else:
        try:
            os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is filtered by the umask; the file is owner-only regardless
        finally:
            os.close(fd)
    return path
