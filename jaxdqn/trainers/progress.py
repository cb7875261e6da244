"""The progress bar of a command-line run: episode, reward, epsilon, loss, steps/s and time left.

Its clock is the training clock, so its rate and ETA leave compilation out; while an update
compiles, the bar says so.
"""
from __future__ import annotations

import contextlib
import time

from jaxdqn.trainers.stats import EpisodeResult, TrainingClock


def compile_estimate(seconds: float | None) -> str:
    """How long compiling is expected to take, from the last session's measurement (None: none yet)."""
    if seconds is None:
        return "first call, usually under a minute"
    return f"about {seconds:.0f} s" if round(seconds) >= 1 else "under a second"


class ProgressBar:
    def __init__(self, total: int, initial: int, clock: TrainingClock, compile_seconds: float | None):
        from tqdm import tqdm

        print("Training; press Ctrl+C to stop (a checkpoint is saved and nothing is lost).")
        self.bar = tqdm(total=total, initial=initial, unit="ep", dynamic_ncols=True)
        self.bar._time = clock  # tqdm reads its clock through this attribute
        self.bar.start_t = self.bar.last_print_t = clock()
        self.compile_seconds = compile_seconds  # the first compile of the last session, when known
        self._measured = False

    def episode(self, result: EpisodeResult, epsilon: float, steps_per_second: float) -> None:
        self.bar.set_postfix(reward=f"{result.reward:.1f}", eps=f"{epsilon:.3f}", loss=f"{result.avg_loss:.3f}",
                             steps_s=f"{steps_per_second:,.0f}", refresh=False)
        if self.bar.n < self.bar.total:  # a compiled run's last chunk may finish a few episodes past the end
            self.bar.update(1)

    @contextlib.contextmanager
    def compiling(self):
        """Shown while an update compiles; the session's first compile time is kept for the next session."""
        self.bar.set_description_str(f"compiling the training step ({compile_estimate(self.compile_seconds)})")
        self.bar.refresh()
        start = time.perf_counter()
        yield
        if not self._measured:
            self.compile_seconds, self._measured = time.perf_counter() - start, True
        self.bar.set_description_str("")

    def close(self) -> None:
        self.bar.close()
