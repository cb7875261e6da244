"""Recordings of a retro game played by an agent, as asciinema casts (v2: one JSON header line, then
one ``[seconds, "o", text]`` line per frame), so a trained agent can be shared and replayed with
``asciinema play FILE`` or an asciinema web player.

Each frame redraws the whole screen: the board inside a border, then one status line (the turn,
the checkpoint, the action chosen, the reward, and the game's reward value), at ``framerate``
frames per second, as ``jaxdqn play`` shows it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from jaxdqn.games.encoding import board_characters

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen


def board_text(game) -> list[str]:
    """The game's board as text rows inside a border (what the terminal view draws)."""
    width, height = game.board_size
    rows = [[" "] * width for _ in range(height)]
    for (x, y), ch in board_characters(game):
        if 0 <= x < width and 0 <= y < height:
            rows[y][x] = ch
    return ["+" + "-" * width + "+", *("|" + "".join(r) + "|" for r in rows), "+" + "-" * width + "+"]


class CastRecorder:
    """Collects frames of one episode and writes them as an asciinema v2 cast."""

    def __init__(self, title: str, framerate: float):
        self.title, self.framerate = title, framerate
        self.frames: list[str] = []
        self.width = self.height = 0

    def frame(self, game, status: str) -> None:
        lines = [*board_text(game), status]
        self.width = max(self.width, *(len(line) for line in lines))
        self.height = max(self.height, len(lines))
        self.frames.append(CLEAR + "\r\n".join(lines))

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"version": 2, "width": self.width, "height": self.height, "timestamp": int(time.time()),
                  "title": self.title, "env": {"TERM": "xterm-256color"}}
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(header) + "\n")
            for i, text in enumerate(self.frames):
                f.write(json.dumps([round(i / self.framerate, 6), "o", text]) + "\n")
        return path


def status_line(label: str, turn: int, game, reward_key: str, action: str | None = None,
                reward: float | None = None) -> str:
    """The line under the board: the turn, the action chosen and its reward, the game's reward value."""
    moved = f"  action {action}  reward {reward:+g}" if action is not None else ""
    return f"{label}  turn {turn}{moved}  {reward_key} = {game.state[reward_key]:g}".strip()


def record_episode(env, choose, recorder: CastRecorder, max_turns: int | None = None, label: str = ""):
    """Play one greedy episode of ``env``, each frame into ``recorder``; the outcome
    (:class:`~jaxdqn.games.episodes.EpisodeOutcome`)."""
    from jaxdqn.games.episodes import run_episode

    names = [a if a is not None else "no-op" for a in env.actions]

    def on_start(game) -> None:
        recorder.frame(game, status_line(label, 0, game, env.reward_key))

    def on_turn(turn: int, action: int, reward: float) -> bool:
        recorder.frame(env.game, status_line(label, turn, env.game, env.reward_key, names[action], reward))
        return False
    return run_episode(env, choose, max_turns, on_turn=on_turn, on_start=on_start)
