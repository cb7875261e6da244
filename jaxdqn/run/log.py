"""``training.log``: the reference's format, line for line, so tools that parse it keep working.

A checkpoint line looks like::

    [ep_0100] ep=0001-0100 avg_reward=+1.2 avg_steps=61 epsilon=0.970 avg_loss=0.8 time=0m12s total=0m12s
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LOG_NAME = "training.log"
CHECKPOINT_LINE = re.compile(
    r"^\[ep_(?P<episode>\d+)\] ep=(?P<first>\d+)-(?P<last>\d+) avg_reward=(?P<avg_reward>[+-]?\d+\.?\d*)"
    r" avg_steps=(?P<avg_steps>\d+\.?\d*) epsilon=(?P<epsilon>\d+\.?\d*) avg_loss=(?P<avg_loss>\S+)"
    r" time=(?P<time>\S+) total=(?P<total>\S+)"
)


SWEEP_LINE = re.compile(r"^  \[ep_(?P<episode>\d+) (?P<config>[^\]]+)\] avg_reward=")


def sweep_line(episode: int, label: str, avg_reward: float, avg_steps: float, epsilon: float) -> str:
    """A sweep's line for one configuration under a checkpoint line (indented, so tools reading the
    reference's lines skip it)."""
    return f"  [ep_{episode:04d} {label}] avg_reward={avg_reward:+.1f} avg_steps={avg_steps:.0f} epsilon={epsilon:.3f}"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"(?:(\d+)h)?(\d+)m(\d+)s", text)
    if not m:
        return 0.0
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


@dataclass
class IntervalStats:
    episode: int  # the last episode of the interval
    first_episode: int
    avg_reward: float
    avg_steps: float
    epsilon: float
    avg_loss: float
    seconds: float  # wall time of the interval
    total_seconds: float  # training time so far

    def line(self) -> str:
        return (f"[ep_{self.episode:04d}] ep={self.first_episode:04d}-{self.episode:04d}"
                f" avg_reward={self.avg_reward:+.1f} avg_steps={self.avg_steps:.0f}"
                f" epsilon={self.epsilon:.3f} avg_loss={self.avg_loss:.1f}"
                f" time={format_duration(self.seconds)} total={format_duration(self.total_seconds)}")

    def as_dict(self) -> dict:
        return {"episode": self.episode, "avg_reward": self.avg_reward, "avg_steps": self.avg_steps,
                "avg_loss": self.avg_loss, "epsilon": self.epsilon}


class TrainingLog:
    """Appends to ``RUN_DIR/training.log`` (the process holding the run's lock is its only writer)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOG_NAME

    @property
    def is_new(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    def write(self, *lines: str) -> None:
        with open(self.path, "a+b") as f:  # a line left unfinished by a crash is ended first, not glued to
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
        with open(self.path, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def checkpoint_episodes(self) -> set[int]:
        """Episodes that have a checkpoint line."""
        return {s.episode for s in parse_log(self.path)}

    def drop_after(self, episode: int) -> list[int]:
        """Remove checkpoint lines (and a sweep's lines under them) of episodes after ``episode``; returns
        their episodes.

        Used on resume: those intervals belong to a checkpoint that no longer exists (or
        that training was deliberately taken back from), so the log must not claim them.
        """
        if not self.path.exists():
            return []
        kept, dropped = [], []
        for line in self.path.read_bytes().splitlines(keepends=True):  # other lines kept byte for byte
            text = line.decode("utf-8", errors="replace")
            m = CHECKPOINT_LINE.match(text)
            if m and int(m["episode"]) > episode:
                dropped.append(int(m["episode"]))
            elif (m := SWEEP_LINE.match(text)) and int(m["episode"]) > episode:
                continue
            else:
                kept.append(line)
        if dropped:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(b"".join(kept))
            os.replace(tmp, self.path)
        return dropped

    def marker(self, resumed_from: str | None) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        what = f"Resumed from {resumed_from}" if resumed_from else "Training started"
        self.write(f"\n=== {what} | {stamp} ===")


def parse_log(path: Path) -> list[IntervalStats]:
    """Every checkpoint line of a training.log, oldest first."""
    out = []
    if not Path(path).exists():
        return out
    for line in Path(path).read_bytes().decode("utf-8", errors="replace").splitlines():  # damaged bytes skipped
        m = CHECKPOINT_LINE.match(line)
        if m:
            out.append(IntervalStats(
                episode=int(m["episode"]), first_episode=int(m["first"]), avg_reward=float(m["avg_reward"]),
                avg_steps=float(m["avg_steps"]), epsilon=float(m["epsilon"]), avg_loss=float(m["avg_loss"]),
                seconds=parse_duration(m["time"]), total_seconds=parse_duration(m["total"])))
    return out
