"""The one writer of ``config.toml``: new files, measured values, and values set from the command line.

Existing files are edited with tomlkit, which keeps the user's comments and key order, and
always replaced through a temporary file and a rename, so a crash never leaves half a file.
Nothing the user wrote is changed, except a value they asked to change (``train --episodes``).
"""
from __future__ import annotations

import os
from pathlib import Path

import tomlkit

from jaxdqn.config import CONFIG_NAME
from jaxdqn.config.schema import TRAINING_KEYS
from jaxdqn.errors import JaxdqnError


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_config(run_dir: Path, *, game: dict, metadata: dict, preprocessing: dict, hidden_sizes: list[int],
                 training: dict, header: list[str]) -> Path:
    """Write a new, commented ``RUN_DIR/config.toml``; refuse if one exists.

    ``training`` holds the values to write; every other ``[training]`` key is written with its
    default (or, when its default is "none", as a comment), each with a line on its meaning.
    """
    path = Path(run_dir) / CONFIG_NAME
    if path.exists():
        raise JaxdqnError(f"{path} already exists and is left as it is. Choose another RUN_DIR, or edit that file.")
    doc = tomlkit.document()
    for line in header:
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc["game"] = {k: v for k, v in game.items() if v is not None}
    doc["metadata"] = metadata
    pre = tomlkit.table()
    for key, value in preprocessing.items():
        if value is not None:
            pre[key] = value
    if not preprocessing.get("observe_state"):
        pre.add(tomlkit.comment('observe_state = ["score"]   # game-state values to observe besides the board'))
    doc["preprocessing"] = pre
    model = tomlkit.table()
    model.add("hidden_sizes", tomlkit.item(list(hidden_sizes)).comment("units per hidden layer"))
    doc["model"] = model
    table = tomlkit.table()
    for key, (default, meaning) in TRAINING_KEYS.items():
        value = training.get(key, default)
        if value is None:
            table.add(tomlkit.comment(f"{key} = 1   # {meaning}"))
        else:
            table.add(key, tomlkit.item(value).comment(meaning))
    doc["training"] = table
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    _replace(path, tomlkit.dumps(doc))
    return path


def record_discovered(path: Path, discovered: dict) -> list[str]:
    """Add measured values to config.toml where the user gave none; keep everything else as written.

    ``discovered`` maps "section.key" to a value. Returns the keys added; the file is rewritten
    only when something is added.
    """
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    added = []
    for dotted, value in discovered.items():
        section, key = dotted.split(".")
        if section not in doc:
            doc.add(section, tomlkit.table())
        table = doc[section]
        if key in table:
            continue
        table[key] = value
        added.append(dotted)
    if added:
        _replace(path, tomlkit.dumps(doc))
    return added


def set_value(path: Path, dotted: str, value) -> object:
    """Set ``section.key`` to ``value`` (a value the user asked for on the command line); returns
    the previous value (None when absent)."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    section, key = dotted.split(".")
    if section not in doc:
        doc.add(section, tomlkit.table())
    previous = doc[section].get(key)
    previous = previous.unwrap() if hasattr(previous, "unwrap") else previous
    doc[section][key] = value
    _replace(path, tomlkit.dumps(doc))
    return previous
