"""One writer per run directory.

A trainer takes an exclusive ``flock`` on ``RUN_DIR/.train.lock`` before it does anything
else, and a second trainer (or ``jaxdqn clean``) on the same directory refuses at once,
naming the holder. The kernel drops the lock when its process ends, however it ends, so a
lock left by a killed run is simply taken over; the pid written in the file is only there
to name the holder in messages. Readers (info, eval, play, plot) never take it.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from jaxdqn.errors import JaxdqnError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking, as before
    fcntl = None

LOCK_NAME = ".train.lock"


class RunLocked(JaxdqnError):
    """Another process holds the run directory's lock."""


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").split()
    except OSError:
        text = []
    if len(text) >= 3:
        pid, host, started = text[:3]
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(started)))
        return f"pid {pid} on {host}, since {since}"
    return "another process"


class RunLock:
    """An exclusive, non-blocking lock on a run directory (a context manager)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, doing: str = "trains") -> RunLock:
        """Take the lock or raise :class:`RunLocked` naming the process that holds it."""
        if self._fd is not None or fcntl is None:
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._held(doing) from None
            if self._still_there(fd):
                break
            os.close(fd)  # the holder removed the file as we opened it (release(remove=True)): take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
        self._fd = fd
        return self

    def _still_there(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _held(self, doing: str) -> RunLocked:
        return RunLocked(
                f"{self.run_dir} is in use: a trainer is running there ({_holder(self.path)}). Only one process "
                f"{doing} a run at a time. Wait for it to finish, or stop it with Ctrl+C in its terminal "
                "(it saves a checkpoint), then run this again.")

    def release(self, remove: bool = False) -> None:
        """Drop the lock; ``remove``: also remove the lock file (``clean`` leaves no trace of training). Safe
        while others try to take it: a taker checks that the file it locked is still the one in the directory."""
        if self._fd is not None:
            if remove:
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
