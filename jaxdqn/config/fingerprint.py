"""What a checkpoint depends on, and the one check that a config can still use it.

A checkpoint records a snapshot of the settings that fix the network's inputs and outputs
(and a short hash of them). Resuming, playing or evaluating with settings that changed any
of them would feed the saved network inputs it was never trained on, so every command
refuses with the same message: each changed field with was / now / why.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from jaxdqn.errors import JaxdqnError

# Fields whose change makes a checkpoint meaningless for the current config, and why.
FINGERPRINT_FIELDS = {
    "metadata.actions": "the actions are the network's outputs",
    "metadata.reward": "Q-values learned for one reward mean nothing for another",
    "metadata.character_set": "each character is an input channel",
    "metadata.board_size": "the board size fixes the input layer",
    "metadata.observation_function": "it defines what the network sees",
    "preprocessing.spatial": "it switches between a CNN and an MLP",
    "preprocessing.board": "it adds or removes the board from the input",
    "preprocessing.observe_state": "each observed value is an input",
    "preprocessing.observe_state_sizes": "they fix the number of extra inputs",
    "preprocessing.egocentric": "it changes what each input cell means",
    "preprocessing.egocentric_player": "the view is centred on a different agent",
    "preprocessing.egocentric_radius": "the radius fixes the input size",
    "model.hidden_sizes": "they are the network's layer sizes",
    "model.network": "a different network module cannot take over the saved parameters",
    "model.dueling": "a dueling head has other layers than a plain one",
    "model.param_shapes": "the saved parameters have other shapes than this network's",
}


class IncompatibleCheckpoint(JaxdqnError):
    pass


def snapshot(metadata, preprocessing: dict, model: dict) -> dict:
    """The fields a checkpoint depends on, as "section.key" -> value (JSON-friendly)."""
    meta = metadata.to_dict()
    out = {}
    for field in FINGERPRINT_FIELDS:
        section, key = field.split(".")
        source = {"metadata": meta, "preprocessing": preprocessing, "model": model}[section]
        value = source.get(key)
        if key == "spatial":
            value = metadata.spatial
        out[field] = list(value) if isinstance(value, tuple) else value
    return out


def fingerprint(snap: dict) -> str:
    return hashlib.sha256(json.dumps(snap, sort_keys=True).encode()).hexdigest()[:16]


def snapshot_differences(old: dict, new: dict) -> list[tuple[str, Any, Any, str]]:
    """(field, was, now, why) for each fingerprinted field that changed. A field the old snapshot does not
    have (it was added to jaxdqn later) is not compared."""
    return [(f, old.get(f), new.get(f), why) for f, why in FINGERPRINT_FIELDS.items()
            if f in old and old.get(f) != new.get(f)]


def check_compatible(saved: dict, current: dict, checkpoint: str, run_dir: Path, doing: str = "resume") -> None:
    """Raise :class:`IncompatibleCheckpoint` listing each changed field when ``current`` (a snapshot
    of today's config) differs from ``saved`` (the checkpoint's)."""
    changes = snapshot_differences(saved, current)
    if not changes:
        return
    lines = [f"cannot {doing} from {checkpoint}: config.toml changed in ways the saved network cannot follow.", ""]
    for field, was, now, why in changes:
        lines += [f"  {field}", f"    was: {was!r}", f"    now: {now!r}", f"    why: {why}", ""]
    lines += ["Undo the change above to keep using the saved network, or start fresh (this removes the "
              f"checkpoints and training.log): jaxdqn clean {run_dir}"]
    raise IncompatibleCheckpoint("\n".join(lines))
