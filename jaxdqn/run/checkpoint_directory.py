"""The checkpoints directory's names and housekeeping: which ``ep_NNNN`` exist, and the renames that
keep a reader's view true (see :mod:`jaxdqn.run.checkpoints` for the protocol). Nothing here reads or
writes a checkpoint's contents."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from jaxdqn.errors import JaxdqnError

PREFIX = "ep"
NAME = re.compile(r"^(?:ep_?)?(\d+)$")
DIR_NAME = re.compile(r"^ep_(\d+)$")
PENDING = ".pending-"
DELETING = ".deleting-"
ORBAX_TMP = ".orbax-checkpoint-tmp"


def checkpoint_name(episode: int) -> str:
    return f"{PREFIX}_{episode:04d}"



class CheckpointDirectory:
    """A run's ``checkpoints`` directory: listing never modifies anything; ``recover``, ``set_aside`` and the
    removals are for the process holding the run's lock (``primary``)."""

    def __init__(self, directory: str | Path, keep: int = 5, primary: bool = True):
        self.directory = Path(directory).resolve()
        self.keep = keep
        self.primary = primary

    def steps(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            m = DIR_NAME.match(entry.name)
            if m and entry.is_dir():
                found.append(int(m.group(1)))
        return sorted(found)

    def latest(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def names(self) -> list[str]:
        return [checkpoint_name(s) for s in self.steps()]

    def path(self, episode: int) -> Path:
        return self.directory / checkpoint_name(episode)

    def resolve(self, name: str | None) -> int:
        """The episode of a checkpoint named like ``ep_0100`` (or ``100``); the latest when None."""
        steps = self.steps()
        if not steps:
            raise JaxdqnError(f"no checkpoints in {self.directory}. Train first: jaxdqn train {self.directory.parent}")
        if name is None:
            return steps[-1]
        m = NAME.match(Path(str(name).strip()).name)
        if not m or int(m.group(1)) not in steps:
            raise JaxdqnError(f"no checkpoint named {name!r} in {self.directory}; available: {', '.join(self.names())}")
        return int(m.group(1))

    def has_replay(self, episode: int) -> bool:
        return self.has_item(episode, "replay")

    def has_item(self, episode: int, item: str) -> bool:
        return (self.path(episode) / item).is_dir()

    # ------------------------------------------------------------------ housekeeping (lock holder only)
    def remove_temporaries(self, pending: Path | None = None, quiet_for: float = 0.5, within: float = 5.0) -> None:
        """Remove a failed save's files (``pending`` and Orbax's temporaries) until none has come back for
        ``quiet_for`` seconds: writers of the other parts, still running in Orbax's background tasks, recreate
        their directories after a first removal."""
        deadline = time.monotonic() + within
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            removed = pending is not None and pending.exists()
            if removed:
                self._remove(pending)
            if self.directory.is_dir():
                removed = self._remove_orbax_tmp() or removed
            if removed:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for:
                return
            time.sleep(0.05)

    def recover(self, logged: set[int]) -> list[str]:
        """Finish what an interrupted process left: commit a complete save whose log line was written,
        discard the rest, finish deletions, keep at most ``keep``. Returns notes for training.log."""
        notes = []
        if not self.directory.is_dir():
            return notes
        self._remove_orbax_tmp()
        for entry in sorted(self.directory.iterdir()):
            if not entry.name.startswith(PENDING):
                continue
            m = DIR_NAME.match(entry.name[len(PENDING):])
            final = self.directory / entry.name[len(PENDING):]
            if m and int(m.group(1)) in logged and not final.exists():
                self._make_room(self.keep - 1)
                os.replace(entry, final)
                notes.append(f"[RESUME] finished saving {final.name}: the previous run stopped just before "
                             "it became visible")
            else:
                self._remove(entry)
        self._make_room(self.keep)
        self._purge(DELETING)
        return notes

    def set_aside(self, episode: int, why: str) -> Path:
        """Rename checkpoint ``episode`` to ``ep_NNNN.<why>`` so it is kept but no longer used."""
        source = self.path(episode)
        target = source.with_name(f"{source.name}.{why}")
        n = 2
        while target.exists():
            target = source.with_name(f"{source.name}.{why}-{n}")
            n += 1
        os.replace(source, target)
        return target

    def _make_room(self, keep: int) -> None:
        """Rename the oldest checkpoints away until at most ``keep`` remain."""
        steps = self.steps()
        for episode in steps[:max(0, len(steps) - keep)]:
            os.replace(self.path(episode), self.directory / f"{DELETING}{checkpoint_name(episode)}-{os.getpid()}")

    def _purge(self, prefix: str) -> None:
        for entry in self.directory.iterdir():
            if entry.name.startswith(prefix):
                self._remove(entry)

    def _remove_orbax_tmp(self) -> bool:
        """Remove Orbax's temporaries; whether there were any."""
        found = [entry for entry in self.directory.iterdir() if ORBAX_TMP in entry.name]
        for entry in found:
            self._remove(entry)
        return bool(found)

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()

    def _sync_directory(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - platforms without directory fds
            return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(fd)
