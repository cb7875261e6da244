"""The host loop's schedules (epsilon, the learning rate, target-network copies) following the rules of
:mod:`jaxdqn.core.schedules`. The state is a few numbers, saved in each checkpoint and restored on resume;
a changed ``epsilon`` or ``learning_rate`` in config.toml restarts that schedule at the new value.
"""
from __future__ import annotations

from typing import Mapping

from jaxdqn.core.schedules import decayed_epsilon, decayed_learning_rate, target_copy_due
from jaxdqn.core.settings import Settings


class Schedules:
    def __init__(self, settings: Settings | Mapping):
        """``settings``: the run's :class:`~jaxdqn.core.settings.Settings`, or hyperparameters holding them."""
        self.settings = settings if isinstance(settings, Settings) else Settings.from_hyperparameters(settings)
        self.epsilon = float(self.settings.epsilon)
        self.learning_rate = float(self.settings.learning_rate)
        self.last_update_step: int | None = None

    def episode_finished(self, trained: bool) -> bool:
        """Decay after an episode; True when the learning rate changed."""
        s = self.settings
        self.epsilon = decayed_epsilon(self.epsilon, 1, s.epsilon_decay, s.epsilon_min)
        self.learning_rate = decayed_learning_rate(self.learning_rate, int(trained), s.learning_rate_decay)
        return trained

    def update_at(self, step: int) -> bool:
        """Record an update at game step ``step``; True when the target must be copied first."""
        freq, last = self.settings.target_update_freq, self.last_update_step
        self.last_update_step = step
        return bool(target_copy_due(step // freq, -1 if last is None else last // freq))

    def state(self) -> dict:
        return {"epsilon": self.epsilon, "learning_rate": self.learning_rate,
                "last_update_step": self.last_update_step}

    def load(self, meta: dict, saved_hp: dict) -> None:
        """Continue from a checkpoint's schedules, restarting any whose starting value changed."""
        restart = restarted_schedules(saved_hp, self.settings._asdict())
        self.epsilon = max(restart.get("epsilon", float(meta["epsilon"])), self.settings.epsilon_min)
        self.learning_rate = restart.get("learning_rate", float(meta["learning_rate"]))
        self.last_update_step = meta.get("last_update_step")


def restarted_schedules(saved_hp: dict, hp: dict) -> dict[str, float]:
    """The schedules a resumed run starts again, with their new starting values: ``epsilon`` and
    ``learning_rate`` when config.toml's value differs from the one the checkpoint was trained with.
    (Epsilon also never continues below ``epsilon_min``.)"""
    return {k: float(hp[k]) for k in ("epsilon", "learning_rate") if k in saved_hp and saved_hp[k] != hp[k]}
