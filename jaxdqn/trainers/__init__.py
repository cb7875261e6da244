"""The trainers, the shell around the core: the host loop for retro games (:mod:`~jaxdqn.trainers.host`) and
the compiled loop for games written in JAX (:mod:`~jaxdqn.trainers.compiled`), each with its checkpoints, on
one base (:mod:`~jaxdqn.trainers.base`)."""
from __future__ import annotations

from jaxdqn.config.fingerprint import IncompatibleCheckpoint
from jaxdqn.config.reading import RunConfig
from jaxdqn.trainers.host import DQNTrainer
from jaxdqn.trainers.run_directory import TrainingDiverged


def trainer_from_config(config: RunConfig, process_id: int | None = None):
    """A trainer for a validated :class:`~jaxdqn.config.RunConfig`: the compiled one for a game written in
    JAX (:class:`~jaxdqn.trainers.compiled.CompiledTrainer`; ``process_id`` for a run on several machines),
    else :class:`~jaxdqn.trainers.host.DQNTrainer`."""
    if config.jax_game is not None:
        from jaxdqn.trainers.compiled import CompiledTrainer
        return CompiledTrainer(config, process_id)
    from jaxdqn.config.assembly import config_factory
    return DQNTrainer(config_factory(config), config.metadata, config.run_dir, dict(config.preprocessing),
                      **config.hyperparams)


__all__ = ["DQNTrainer", "IncompatibleCheckpoint", "TrainingDiverged", "trainer_from_config"]
