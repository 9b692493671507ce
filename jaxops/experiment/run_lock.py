"""One `jaxops train` per run directory: a second one started on a directory in use (by
`hydra.run.dir=` or `resume=true`) is refused instead of interleaving its writes.

The lock is an advisory `flock` on `<run>/.lock`, which names its holder. The operating
system releases it when the holding process ends, however it ends (SIGKILL included), so a
killed run never leaves a stale lock behind. On network file systems `flock` is as reliable as
their locking (NFSv4 supports it).
"""

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from .._config import ConfigError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def holding_run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the lock of `run_dir` for the `with` block; a `ConfigError` naming the holder if
    another process (or another `with` in this one) holds it."""
    with open(Path(run_dir) / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"{run_dir} is in use by another jaxops train ({holder}); wait for it to "
                "finish, or choose another hydra.run.dir"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
