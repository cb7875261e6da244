"""Epsilon, the learning rate and target-network copies: the reference's schedules.

Epsilon decays after every finished episode, the learning rate after every episode that
trained, and the target network is copied every ``target_update_freq`` game steps. The
state is a few numbers, saved in each checkpoint and restored on resume; a changed
``epsilon`` or ``learning_rate`` in config.toml restarts that schedule at the new value.
"""
from __future__ import annotations


class Schedules:
    def __init__(self, hp: dict):
        self.hp = hp
        self.epsilon = float(hp["epsilon"])
        self.learning_rate = float(hp["learning_rate"])
        self.last_update_step: int | None = None

    def episode_finished(self, trained: bool) -> bool:
        """Decay after an episode; True when the learning rate changed."""
        self.epsilon = max(self.hp["epsilon_min"], self.epsilon * self.hp["epsilon_decay"])
        if trained:
            self.learning_rate *= self.hp["learning_rate_decay"]
        return trained

    def update_at(self, step: int) -> bool:
        """Record an update at game step ``step``; True when the target must be copied first.

        The reference copies the network every ``target_update_freq`` game steps; the copy it
        makes after step ``k * freq`` first matters at the next update, so it is made there.
        """
        freq, last = self.hp["target_update_freq"], self.last_update_step
        self.last_update_step = step
        return last is not None and step // freq > last // freq

    def state(self) -> dict:
        return {"epsilon": self.epsilon, "learning_rate": self.learning_rate,
                "last_update_step": self.last_update_step}

    def load(self, meta: dict, saved_hp: dict) -> None:
        """Continue from a checkpoint's schedules, restarting any whose starting value changed."""
        restart = restarted_schedules(saved_hp, self.hp)
        self.epsilon = max(restart.get("epsilon", float(meta["epsilon"])), self.hp["epsilon_min"])
        self.learning_rate = restart.get("learning_rate", float(meta["learning_rate"]))
        self.last_update_step = meta.get("last_update_step")


def restarted_schedules(saved_hp: dict, hp: dict) -> dict[str, float]:
    """The schedules a resumed run starts again, with their new starting values: ``epsilon`` and
    ``learning_rate`` when config.toml's value differs from the one the checkpoint was trained with.
    (Epsilon also never continues below ``epsilon_min``.)"""
    return {k: float(hp[k]) for k in ("epsilon", "learning_rate") if k in saved_hp and saved_hp[k] != hp[k]}
