"""Per-episode results and the averages written to training.log at each checkpoint."""
from __future__ import annotations

import time
from typing import NamedTuple

from jaxdqn.run.log import IntervalStats


class EpisodeResult(NamedTuple):
    reward: float
    steps: int
    avg_loss: float
    trained: bool  # at least one update was made during the episode
    ended: str = "game"  # "game", "turn_limit" or "stopped" (a stop request cut it short): metrics.ENDINGS


class Interval:
    """The episodes since the last checkpoint. An episode a stop request cut short is counted (it has its
    number) but left out of the averages, unless the interval holds nothing else."""

    def __init__(self, start: float):
        self.start = start
        self.complete: list[EpisodeResult] = []
        self.stopped: list[EpisodeResult] = []

    def add(self, result: EpisodeResult) -> None:
        (self.stopped if result.ended == "stopped" else self.complete).append(result)

    def stats(self, episode: int, epsilon: float, now: float, total_seconds: float) -> IntervalStats:
        counted = self.complete or self.stopped
        n = len(counted)
        losses = [r.avg_loss for r in counted if r.avg_loss > 0]  # as the reference: episodes without updates
        return IntervalStats(
            episode=episode, first_episode=episode - len(self.complete) - len(self.stopped) + 1, avg_reward=sum(r.reward for r in counted) / n,
            avg_steps=sum(r.steps for r in counted) / n, epsilon=epsilon,
            avg_loss=sum(losses) / len(losses) if losses else 0.0,
            seconds=now - self.start, total_seconds=total_seconds)


class StepRate:
    """Game steps per second, a moving average over episodes."""

    def __init__(self, now: float):
        self.last = now
        self.rate: float | None = None

    def episode(self, steps: int, now: float) -> float:
        rate = steps / max(now - self.last, 1e-9)
        self.rate = rate if self.rate is None else 0.9 * self.rate + 0.1 * rate
        self.last = now
        return self.rate


# JAX reports how long each compilation's stages took; the training clock leaves them out.
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")


class TrainingClock:
    """Seconds of training, without the time JAX spends compiling (a context manager; call it for now).

    Rates, ETAs and the log's times are about training: the first update of a session (or the
    recompilation after row lists widen) would otherwise make the first interval look many
    times slower than it is.
    """

    def __init__(self):
        self.compile_seconds = 0.0

    def _listen(self, event: str, seconds: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            self.compile_seconds += seconds

    def __enter__(self) -> TrainingClock:
        import jax
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc) -> None:
        import jax
        jax.monitoring.unregister_event_duration_listener(self._listen)

    def __call__(self) -> float:
        return time.perf_counter() - self.compile_seconds
