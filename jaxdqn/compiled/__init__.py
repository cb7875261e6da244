"""Training compiled end to end for games written in JAX (see :mod:`jaxdqn.compiled.runner`)."""
from jaxdqn.compiled.runner import Clock, EpisodeRecords, Runner, RunnerState, Settings, make_runner
from jaxdqn.compiled.train import TrainConfig, game_spec, make_train

__all__ = ["Clock", "EpisodeRecords", "Runner", "RunnerState", "Settings", "TrainConfig", "game_spec", "make_runner",
           "make_train"]
