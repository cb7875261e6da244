"""The reference's schedules, written once for both loops: epsilon decays after every finished episode,
the learning rate after every episode that trained, and the target network is copied when an update
finds ``target_update_freq`` game steps passed since the previous update's.

Each rule takes its arithmetic (``maximum``): the host loop passes Python's ``max`` on Python floats,
as the reference computes, and the compiled loop ``jnp.maximum`` on float32 arrays, where a count of
episodes finished in one step may be more than one.
"""
from __future__ import annotations

from typing import Callable


def decayed_epsilon(epsilon, finished, decay, floor, maximum: Callable = max):
    """Epsilon after ``finished`` episodes ended: multiplied by ``decay`` for each, never below ``floor``."""
    return maximum(floor, epsilon * decay ** finished)


def decayed_learning_rate(learning_rate, trained, decay):
    """The learning rate after ``trained`` episodes that had at least one update ended."""
    return learning_rate * decay ** trained


def target_copy_due(period, last_update_period):
    """Whether an update in ``period`` (game steps // ``target_update_freq``) copies the network into the
    target first: the reference copies after every ``target_update_freq`` game steps, and that copy first
    matters at the next update. ``last_update_period`` is the previous update's period, -1 before the first."""
    return (last_update_period >= 0) & (period > last_update_period)
