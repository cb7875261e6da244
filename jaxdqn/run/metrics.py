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
COLUMNS = ("episode", "reward", "steps", "epsilon", "loss", "steps_per_second", "training_seconds", "agent",
           "ended", "config")
# how an episode ended: the game ended it, it reached max_turns_per_episode, or a stop request cut it short
ENDINGS = ("game", "turn_limit", "stopped")


class EpisodeMetrics:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_NAME
        self._rows: list[tuple] = []
        self.listeners: list = []  # called with the rows of each flush (TensorBoard's event files)

    def add(self, episode: int, reward: float, steps: int, epsilon: float, loss: float, steps_per_second: float,
            training_seconds: float, agent: int = 0, ended: str = "game", config: str = "") -> None:
        """One finished episode (``agent``: which of the agents played it; ``ended``: one of :data:`ENDINGS`;
        ``config``: the sweep's configuration the agent trains with, "key=value key=value", empty without one)."""
        self._rows.append((episode, f"{reward:.6g}", steps, f"{epsilon:.6g}", f"{loss:.6g}",
                           f"{steps_per_second:.1f}", f"{training_seconds:.3f}", agent, ended, config))

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
        for listener in self.listeners:
            listener(self._rows)
        self._rows = []

    def drop_after(self, episode: int) -> int:
        """Keep the whole rows of episodes up to ``episode``; returns how many rows were removed.

        Rows past it belong to no checkpoint that training continues from (none at all when
        ``episode`` is 0), and a row cut short or made unreadable (a crash or a full disk mid-write,
        bytes that are not UTF-8) is no row: the next flush would glue its own first row onto it.
        """
        if not self.path.exists():
            return 0
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        rows = _rows(text)
        kept = [r for r in rows if int(r[0]) <= episode]
        new = ",".join(COLUMNS) + "\n" + "".join(",".join(r) + "\n" for r in kept)
        if new == text:
            return 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(new)
        os.replace(tmp, self.path)
        return len([line for line in text.splitlines() if line.strip() and not line.startswith("episode,")]) - len(kept)


def _rows(text: str) -> list[list[str]]:
    """The whole rows of a metrics.csv's text, as fields: a row must end with a newline and hold every column
    (rows written before the ``agent``, ``ended`` and ``config`` columns were added get agent 0, ended by the
    game, no configuration); the header and anything else is skipped."""
    rows = []
    for line in text.splitlines(keepends=True):
        fields = line.rstrip("\n").split(",")
        if len(fields) == 7:
            fields.append("0")
        if len(fields) == 8 and fields[-1].isdigit():
            fields.append("game")
        if len(fields) == 9 and fields[-1] in ENDINGS:
            fields.append("")
        if (line.endswith("\n") and len(fields) == len(COLUMNS) and "\ufffd" not in line and fields[0].isdigit()
                and fields[COLUMNS.index("ended")] in ENDINGS):
            rows.append(fields)
    return rows


def read_metrics(path: Path) -> list[dict]:
    """Every whole row of a metrics.csv as a dict of strings (empty when there is no file); a row cut short
    or unreadable is left out, as the next training session removes it."""
    path = Path(path)
    if not path.exists():
        return []
    return [dict(zip(COLUMNS, fields)) for fields in _rows(path.read_bytes().decode("utf-8", errors="replace"))]
