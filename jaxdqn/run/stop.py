"""Ctrl+C, SIGTERM and SIGHUP (the terminal closed) for a command-line run.

The first signal only sets a flag: training ends the episode after the current game step,
saves a checkpoint and exits 0. A later one quits at once, except while a checkpoint is
being written: then the save finishes first and the process exits right after it, so a
checkpoint is either complete (with its training.log line) or absent. The handlers never
raise inside whatever code happens to be running (a KeyboardInterrupt raised inside a
garbage-collection callback is silently lost), and they are installed by the command-line
entry only: a program that calls ``DQNTrainer.train`` keeps its own Ctrl+C.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future
from typing import Callable

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequests:
    """Stop requests from signals, polled by the training loop."""

    def __init__(self, describe_saved: Callable[[], str] | None = None):
        self.requested = False
        self._quit_after_save = False
        self._saving = 0
        self._previous: dict = {}
        self._describe_saved = describe_saved or (lambda: "")
        self._waiting: str | None = None  # what the process waits for before training: a signal quits at once
        self._arrivals: int | None = None  # read end of a pipe with a byte per signal that arrived
        self._previous_wakeup = -1

    # ------------------------------------------------------------------ installation
    def install(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
            # Python runs a handler once for signals that arrive together while the program is inside a long
            # call (a compiled chunk): the wakeup pipe gets a byte for each, so two quick Ctrl+C count as two
            self._arrivals, write = os.pipe()
            os.set_blocking(self._arrivals, False)
            os.set_blocking(write, False)
            self._previous_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._arrivals is not None:
            os.close(signal.set_wakeup_fd(self._previous_wakeup))
            os.close(self._arrivals)
            self._arrivals = None

    def __enter__(self) -> StopRequests:
        return self.install()

    def __exit__(self, *exc) -> bool:
        self.restore()
        return False

    # ------------------------------------------------------------------ use
    @contextlib.contextmanager
    def saving(self):
        """A checkpoint is being written: a quit request waits until it is complete."""
        self._saving += 1
        try:
            yield
        finally:
            self._saving -= 1
            if self._quit_after_save and not self._saving:
                self._quit("Saved it and stopped, as asked.")

    @contextlib.contextmanager
    def waiting(self, what: str):
        """The process waits for something before training starts (``what``, e.g. "waiting for the other
        processes to join"): a stop request quits at once, since nothing would be saved."""
        self._waiting = what
        try:
            if self.requested:
                self._quit(f"Stopped while {what}.")
            yield
        finally:
            self._waiting = None

    def call(self, fn: Callable):
        """``fn()`` on a helper thread while this one waits: Python runs signal handlers on the main thread
        only, between its own instructions, so a long native call (compiling, a compiled chunk, a stuck
        runtime) would otherwise hold every stop request back until it returns."""
        done: Future = Future()
        return self.run(lambda: settle(done, fn), done)

    def run(self, work: Callable[[], None], done: Future):
        """``work()``, which settles ``done``, as ``call`` runs ``fn``: on a helper thread when stop requests
        would otherwise wait (see run_beside); ``done``'s value or exception."""
        if threading.current_thread() is not threading.main_thread() or not self._previous:
            work()
            return done.result(timeout=0)
        return run_beside(work, done)

    def _handle(self, signum, frame) -> None:
        for _ in range(max(1, self._arrived())):
            self._one(signum)

    def _arrived(self) -> int:
        """Signals that arrived since the last call (0 when unknown)."""
        count = 0
        while self._arrivals is not None:
            try:
                got = os.read(self._arrivals, 64)
            except (BlockingIOError, OSError):
                break
            if not got:
                break
            count += len(got)
        return count

    def _one(self, signum) -> None:
        if self._waiting is not None:
            self._quit(f"Stopped while {self._waiting}.")
        if not self.requested:
            self.requested = True
            _say("\nStopping after this game step and saving a checkpoint (press Ctrl+C again to quit at once "
                 "without saving)...")
            return
        if self._saving:
            # the flag first: another signal's handler may run in the middle of this one
            told, self._quit_after_save = self._quit_after_save, True
            if not told:
                _say("\nA checkpoint is being written; quitting as soon as it is complete...")
            return
        self._quit("Quit without saving this episode.")

    def _quit(self, what: str) -> None:
        where = self._describe_saved()
        _say(f"\n{what} {where}".rstrip())
        try:
            sys.stdout.flush()
        except (OSError, ValueError, RuntimeError):  # pragma: no cover
            pass
        os._exit(130)


def call_beside(fn: Callable, timeout: float | None = None, on_late: Callable[[], None] | None = None):
    """``fn()`` on a helper thread while this thread waits in Python, where signal handlers run; its value
    or its exception. After ``timeout`` seconds, ``on_late()``, which must end the process (a native call
    cannot be cancelled)."""
    done: Future = Future()
    return run_beside(lambda: settle(done, fn), done, timeout, on_late)


def settle(done: Future, fn: Callable) -> None:
    """``fn()``'s value or exception into ``done``."""
    try:
        done.set_result(fn())
    except BaseException as exc:  # noqa: BLE001 - raised again on the waiting thread
        done.set_exception(exc)


def run_beside(work: Callable[[], None], done: Future, timeout: float | None = None,
               on_late: Callable[[], None] | None = None):
    """Start ``work`` on a helper thread and wait, in Python, until it settles ``done``; ``done``'s value or
    exception. ``work`` runs as the thread's own target, so a caller that settles ``done`` itself keeps
    its code path free of this module."""
    worker = threading.Thread(target=work, name="jaxdqn-call", daemon=True)
    worker.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    while worker.is_alive():
        worker.join(0.05)
        if deadline is not None and worker.is_alive() and time.monotonic() > deadline:
            on_late()
    return done.result(timeout=0)


def _say(text: str) -> None:
    """Straight to file descriptor 2: a signal handler may interrupt a print already in progress."""
    try:
        os.write(2, (text + "\n").encode())
    except OSError:  # pragma: no cover - a closed stderr
        pass
