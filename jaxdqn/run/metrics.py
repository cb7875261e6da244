"""``metrics.csv``: one row per finished episode, beside training.log, for pandas, TensorBoard or W&B.

Rows are buffered and written with each checkpoint (just before it becomes visible), so
the file never runs ahead of the checkpoints; on resume, rows past the checkpoint training
continues from are dropped, as its training.log lines are.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

METRICS_NAME = "metrics.csv"
COLUMNS = ("episode", "reward", "steps", "epsilon", "loss", "steps_per_second", "training_seconds", "agent")


class EpisodeMetrics:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_NAME
        self._rows: list[tuple] = []

    def add(self, episode: int, reward: float, steps: int, epsilon: float, loss: float, steps_per_second: float,
            training_seconds: float, agent: int = 0) -> None:
        """One finished episode (``agent``: which of ``num_seeds`` agents played it)."""
        self._rows.append((episode, f"{reward:.6g}", steps, f"{epsilon:.6g}", f"{loss:.6g}",
                           f"{steps_per_second:.1f}", f"{training_seconds:.3f}", agent))

    def flush(self) -> None:
        if not self._rows:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if new:
            writer.writerow(COLUMNS)
        writer.writerows(self._rows)
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        self._rows = []

    def drop_after(self, episode: int) -> int:
        """Remove rows of episodes after ``episode``; returns how many."""
        rows = read_metrics(self.path)
        kept = [r for r in rows if int(r["episode"]) <= episode]
        if len(kept) == len(rows):
            return 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, self.path)
        return len(rows) - len(kept)


def read_metrics(path: Path) -> list[dict]:
    """Every row of a metrics.csv as a dict of strings (empty when there is no file)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
