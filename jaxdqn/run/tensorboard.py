"""TensorBoard event files beside metrics.csv: ``[training] tensorboard = true``.

The same per-episode numbers as metrics.csv (reward, length, loss, epsilon, steps/s), the learning
rate at each checkpoint, and ``jaxdqn eval``'s results, under ``RUN_DIR/tensorboard/``: one run per
agent (``agent_0``, ``agent_1``, ... for ``num_seeds`` agents) and ``eval`` for evaluations, so
``tensorboard --logdir RUN_DIR/tensorboard`` draws each as its own curve. Written with tensorboardX
(no TensorFlow) when a checkpoint is written, as metrics.csv is; a resumed session tells TensorBoard
to drop what an earlier session wrote past the checkpoint it continues from (``purge_step``).
"""
from __future__ import annotations

from pathlib import Path

from jaxdqn.errors import JaxdqnError

TENSORBOARD_DIR = "tensorboard"
INSTALL = 'pip install tensorboardX (or pip install -e ".[tensorboard]")'


def check_available() -> None:
    """Raise a clear error when tensorboardX cannot be imported."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise JaxdqnError(f"training.tensorboard = true needs the tensorboardX package: {INSTALL}; or set "
                          "tensorboard = false") from None


class TensorBoardEvents:
    """Event files for one training session (the primary process only)."""

    def __init__(self, run_dir: str | Path, first_episode: int):
        """``first_episode``: the session's first episode; TensorBoard hides events an earlier session wrote
        from there on (they belong to no checkpoint this session continues from)."""
        check_available()
        self.directory = Path(run_dir) / TENSORBOARD_DIR
        self.first_episode = first_episode
        self._writers: dict[str, object] = {}

    def _writer(self, name: str):
        if name not in self._writers:
            from tensorboardX import SummaryWriter
            self._writers[name] = SummaryWriter(str(self.directory / name), purge_step=self.first_episode,
                                                flush_secs=3600)
        return self._writers[name]

    def episodes(self, rows: list[tuple]) -> None:
        """metrics.csv rows (``jaxdqn.run.metrics.COLUMNS``), as scalars at their episode; episodes a stop
        request cut short are left out, as in the plots."""
        for episode, reward, steps, epsilon, loss, steps_per_second, _, agent, ended, _ in rows:
            if ended == "stopped":
                continue
            writer, step = self._writer(f"agent_{agent}"), int(episode)
            writer.add_scalar("episode/reward", float(reward), step)
            writer.add_scalar("episode/length", int(steps), step)
            if float(loss) > 0:
                writer.add_scalar("train/loss", float(loss), step)
            writer.add_scalar("train/epsilon", float(epsilon), step)
            writer.add_scalar("speed/steps_per_second", float(steps_per_second), step)

    def checkpoint(self, episode: int, learning_rate: float | None, agents: int = 1) -> None:
        """At a checkpoint: the learning rate (every agent's), then everything to disk."""
        if learning_rate is not None:
            for agent in range(agents):
                self._writer(f"agent_{agent}").add_scalar("train/learning_rate", float(learning_rate), episode)
        self.flush()

    def flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def record_evaluation(run_dir: str | Path, result: dict) -> Path:
    """``jaxdqn eval``'s result as scalars of the ``eval`` run at the checkpoint's episode (one tag per game
    it was played on). Returns the directory written."""
    check_available()
    from tensorboardX import SummaryWriter
    directory = Path(run_dir) / TENSORBOARD_DIR / "eval"
    with SummaryWriter(str(directory)) as writer:
        on = result.get("on", "retro")
        for key in ("episode_reward", "episode_length"):
            stats = result.get(key)
            if stats:
                writer.add_scalar(f"{on}/{key}_mean", float(stats["mean"]), int(result["episode"]))
    return directory
