"""Module paths from before the package was regrouped keep working: ``import jaxdqn.learner`` gives
:mod:`jaxdqn.core.learner` itself, with a warning that names the new path."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "jaxdqn.types": "jaxdqn.core.types",
    "jaxdqn.losses": "jaxdqn.core.losses",
    "jaxdqn.learner": "jaxdqn.core.learner",
    "jaxdqn.replay": "jaxdqn.core.replay",
    "jaxdqn.sum_tree": "jaxdqn.core.sum_tree",
    "jaxdqn.acting": "jaxdqn.core.acting",
    "jaxdqn.rows": "jaxdqn.core.rows",
    "jaxdqn.networks": "jaxdqn.core.networks",
    "jaxdqn.compiled": "jaxdqn.core",
    "jaxdqn.compiled.runner": "jaxdqn.core.runner",
    "jaxdqn.compiled.train": "jaxdqn.core.training",
    "jaxdqn.compiled.distributed": "jaxdqn.core.sharding",
    "jaxdqn.compiled.evaluate": "jaxdqn.core.evaluation",
    "jaxdqn.episodes": "jaxdqn.games.episodes",
    "jaxdqn.config_schema": "jaxdqn.config.schema",
    "jaxdqn.config_file": "jaxdqn.config.writing",
    "jaxdqn.fingerprint": "jaxdqn.config.fingerprint",
    "jaxdqn.assembly": "jaxdqn.config.assembly",
    "jaxdqn.architecture": "jaxdqn.config.architecture",
    "jaxdqn.memory": "jaxdqn.trainers.memory",
    "jaxdqn.trainer": "jaxdqn.trainers",
    "jaxdqn.trainer.acting": "jaxdqn.trainers.host",
    "jaxdqn.trainer.updates": "jaxdqn.trainers.host_updates",
    "jaxdqn.trainer.host_checkpoints": "jaxdqn.trainers.host_checkpoints",
    "jaxdqn.trainer.compiled": "jaxdqn.trainers.compiled",
    "jaxdqn.trainer.compiled_checkpoints": "jaxdqn.trainers.compiled_checkpoints",
    "jaxdqn.trainer.distributed": "jaxdqn.trainers.processes",
    "jaxdqn.trainer.lifecycle": "jaxdqn.trainers.run_directory",
    "jaxdqn.trainer.schedules": "jaxdqn.trainers.schedules",
    "jaxdqn.trainer.stats": "jaxdqn.trainers.stats",
    "jaxdqn.trainer.progress": "jaxdqn.trainers.progress",
    "jaxdqn.trainer.randomness": "jaxdqn.trainers.randomness",
    "jaxdqn.run.state": "jaxdqn.run.restore",
    "jaxdqn.cli.train": "jaxdqn.train",
}


def new_name(old: str) -> str | None:
    """The module's path now, or None if ``old`` did not move (``jaxdqn.networks.layers`` follows
    ``jaxdqn.networks``)."""
    package = old
    while package:
        if package in MOVED:
            return MOVED[package] + old[len(package):]
        package = package.rpartition(".")[0]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {self.new}; import it from there", DeprecationWarning, stacklevel=3)
        return importlib.import_module(self.new)

    def exec_module(self, module):
        pass  # the module is the new one, already run


class MovedModules(importlib.abc.MetaPathFinder):
    """Finds an old path and hands back the module at its new one (the same object)."""

    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname) if fullname.startswith("jaxdqn.") else None
        if new is None:
            return None
        if importlib.util.find_spec(new) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new), is_package=False)


def install() -> None:
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())
