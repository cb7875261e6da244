"""Game metadata: what the agent may press, what it is rewarded for, and how to build the game.

Read from ``[tool.retro-gamer]`` in the game's ``pyproject.toml`` (found by walking up
from the game module's file) or from ``[metadata]`` in a run's ``config.toml``; both
use the same keys, so a run directory made for the PyTorch reference works unchanged.
"""
from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jaxdqn.errors import ConfigError, JaxdqnError, Problem, closest, raise_if, unknown_keys
from jaxdqn.games.known import known_game

KNOWN_KEYS = ("actions", "reward", "character_set", "spatial", "board_size", "factory", "observation_function")
EXAMPLE_SECTION = ('[tool.retro-gamer]\nactions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]   # keys the agent may press\n'
                   'reward = "score"   # the game-state key whose change is the reward')


@dataclass
class GameMetadata:
    actions: list[str]
    reward: str
    character_set: list[str] | None = None
    spatial: bool = False
    board_size: tuple[int, int] | None = None  # (width, height), as retro-games writes it
    factory: str | None = None  # "module:attr"; default: the game module's create_game
    observation_function: str | None = None  # "module:attr", f(game) -> array
    extra: dict = field(default_factory=dict)  # accepted, unused keys (the reference's extras_size)

    @property
    def num_actions(self) -> int:
        """The game's actions plus the no-op (always the last index)."""
        return len(self.actions) + 1

    def action_key(self, index: int) -> str | None:
        return self.actions[index] if index < len(self.actions) else None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"actions": list(self.actions), "reward": self.reward}
        if self.character_set is not None:
            out["character_set"] = list(self.character_set)
        out["spatial"] = bool(self.spatial)
        if self.board_size is not None:
            out["board_size"] = list(self.board_size)
        if self.factory is not None:
            out["factory"] = self.factory
        if self.observation_function is not None:
            out["observation_function"] = self.observation_function
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = "[metadata]", field_prefix: str = "metadata",
                  import_modules: bool = True) -> GameMetadata:
        """Validate ``data`` (every problem reported at once) and build the metadata."""
        raise_if(validate_metadata(data, field_prefix, import_modules), source)
        return cls(
            actions=list(data["actions"]),
            reward=data["reward"],
            character_set=list(data["character_set"]) if data.get("character_set") is not None else None,
            spatial=bool(data.get("spatial", False)),
            board_size=tuple(data["board_size"]) if data.get("board_size") is not None else None,
            factory=data.get("factory"),
            observation_function=data.get("observation_function"),
            extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
        )


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def check_reference(value, key: str, prefix: str, problems: list[Problem], what_it_names: str,
                     import_modules: bool = True) -> None:
    """A "module:attr" string must have that shape, import, and name an existing attribute (the last
    two only with ``import_modules``)."""
    f = f"{prefix}.{key}"
    example = f'{key} = "my_game:{"create_game" if key == "factory" else "observe"}"'
    if not isinstance(value, str) or value.count(":") != 1 or not all(value.split(":")):
        problems.append(Problem(f, f"{value!r} is not of the form \"module:attr\"",
                                f"it names {what_it_names}, found by importing the module and reading the attribute",
                                example))
        return
    if not import_modules:
        return
    module_name, attr = value.split(":")
    try:
        module = import_game_module(module_name)
    except JaxdqnError as exc:
        problems.append(Problem(f, f"module {module_name!r} cannot be imported ({exc.__cause__ or exc})",
                                f"it names {what_it_names}",
                                f"check the spelling, or make {module_name!r} importable (install it, or set "
                                "[game] path in config.toml to its folder)"))
        return
    if not hasattr(module, attr):
        problems.append(Problem(f, f"module {module_name!r} has no attribute {attr!r}",
                                f"it names {what_it_names}",
                                f"define {attr}() in {module_name}, or point {key} at an existing function"))


def validate_metadata(data: dict, prefix: str = "metadata", import_modules: bool = True) -> list[Problem]:
    """Every problem in a metadata table, each with what, why and an example fix (modules named by
    ``factory`` and ``observation_function`` are imported to check them only with ``import_modules``)."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return [Problem(prefix, f"expected a table, got {type(data).__name__}",
                        "the trainer needs to know the game's actions and reward", EXAMPLE_SECTION)]
    problems.extend(unknown_keys(data, KNOWN_KEYS + ("extras_size",), prefix, "metadata key"))
    actions = data.get("actions")
    if actions is None or actions == []:
        problems.append(Problem(f"{prefix}.actions", "is missing or empty",
                                "the agent can only learn to press keys it is told about",
                                'actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]'))
    elif not _is_str_list(actions):
        problems.append(Problem(f"{prefix}.actions", f"{actions!r} is not a list of key names",
                                "each action is the name of one key the agent may press",
                                'actions = ["KEY_LEFT", "KEY_RIGHT", " "]'))
    elif len(set(actions)) != len(actions):
        problems.append(Problem(f"{prefix}.actions", f"{actions!r} lists a key twice",
                                "two outputs of the network would mean the same action",
                                "list each key once"))
    reward = data.get("reward")
    if reward is None or reward == "":
        problems.append(Problem(f"{prefix}.reward", "is missing or empty",
                                "the reward is the change of this game-state value each turn; without it there "
                                "is nothing to learn", 'reward = "score"'))
    elif not isinstance(reward, str):
        problems.append(Problem(f"{prefix}.reward", f"{reward!r} is not a string",
                                "it names a key of the game's state dict", 'reward = "score"'))
    chars = data.get("character_set")
    if chars is not None:
        if not isinstance(chars, list):
            problems.append(Problem(f"{prefix}.character_set", f"{chars!r} is not a list",
                                    "each entry is one character that can appear on the board",
                                    'character_set = ["@", "*", "#"] (or remove it to discover them)'))
        else:
            bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
            if bad:
                problems.append(Problem(f"{prefix}.character_set", f"entries {bad!r} are not single characters",
                                        "each board cell shows one character, and each character gets one input "
                                        "channel", 'character_set = ["@", "*", "#"] (or remove it to discover them)'))
            elif len(set(chars)) != len(chars):
                problems.append(Problem(f"{prefix}.character_set", "lists a character twice",
                                        "two channels would mean the same thing", "list each character once"))
            elif " " in chars:
                problems.append(Problem(f"{prefix}.character_set", "contains the blank ' '",
                                        "blank cells are the empty background, encoded as no channel at all",
                                        "remove \" \" from character_set"))
    if "spatial" in data and not isinstance(data["spatial"], bool):
        problems.append(Problem(f"{prefix}.spatial", f"{data['spatial']!r} is not true or false",
                                "it chooses a convolutional (true) or fully connected (false) network",
                                "spatial = true"))
    size = data.get("board_size")
    if size is not None and not (isinstance(size, list | tuple) and len(size) == 2
                                 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        problems.append(Problem(f"{prefix}.board_size", f"{size!r} is not [width, height] of positive integers",
                                "it fixes the network's input size", "board_size = [32, 16] (or remove it to measure)"))
    if data.get("factory") is not None:
        check_reference(data["factory"], "factory", prefix, problems, "the function that builds a new game",
                         import_modules)
    if data.get("observation_function") is not None:
        check_reference(data["observation_function"], "observation_function", prefix, problems,
                         "a function f(game) -> array that replaces the built-in observation", import_modules)
    return problems


def import_game_module(module_name: str, path: str | None = None):
    """Import a game module, optionally from a folder that is not on ``sys.path``."""
    if path:
        folder = str(Path(path).expanduser().resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        guess = _closest_module(module_name) if exc.name and module_name.startswith(exc.name) else None
        hint = f"; did you mean {guess!r}?" if guess else ""
        error = JaxdqnError(f"cannot import game module {module_name!r}: {exc}{hint}")
        error.guess = guess  # for messages that put it in their own words
        raise error from exc
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's module, explain it
        raise JaxdqnError(f"cannot import game module {module_name!r}: {exc}") from exc
    except SystemExit as exc:
        raise JaxdqnError(f"cannot import game module {module_name!r}: importing it called sys.exit({exc.code!r}). "
                          "A game module should only define the game: start it under "
                          "if __name__ == \"__main__\":") from None


def _closest_module(module_name: str) -> str | None:
    """The importable module name closest to a misspelt one (same package, nearest spelling)."""
    import pkgutil

    parts = module_name.split(".")
    for depth in range(len(parts) - 1, -1, -1):
        parent = ".".join(parts[:depth])
        try:
            search = importlib.import_module(parent).__path__ if parent else None
        except (ImportError, AttributeError):
            continue
        names = {m.name for m in pkgutil.iter_modules(search)}
        for folder in search or sys.path:  # namespace packages (folders without __init__.py) too
            try:
                names.update(d.name for d in Path(folder or ".").iterdir() if d.is_dir() and d.name.isidentifier())
            except OSError:
                continue
        guess = closest(parts[depth], sorted(names))
        return ".".join([*parts[:depth], guess, *parts[depth + 1:]]) if guess else None
    return None


def resolve(reference: str) -> Callable:
    """The object named by a validated "module:attr" string."""
    module_name, attr = reference.split(":")
    return getattr(import_game_module(module_name), attr)


def find_pyproject(module_name: str, path: str | None = None) -> Path | None:
    """Walk up from the module's file to the nearest ``pyproject.toml`` (stopping at site-packages)."""
    module = import_game_module(module_name, path)
    module_file = getattr(module, "__file__", None)
    if module_file is None:
        return None
    for parent in Path(module_file).resolve().parents:
        candidate = parent / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if parent.name in ("site-packages", "dist-packages"):
            return None
    return None


def load_pyproject_metadata(module_name: str, path: str | None = None) -> tuple[GameMetadata, str]:
    """Metadata from the game's ``[tool.retro-gamer]`` table, and where it came from.

    An example game that ships without one (``retro.examples.snake``) gets jaxdqn's built-in
    metadata for it (:mod:`jaxdqn.games.known`).
    """
    pyproject = find_pyproject(module_name, path)
    if pyproject is None:
        known = known_game(module_name)
        if known is not None:
            return (GameMetadata.from_dict(known["metadata"], source="jaxdqn.games.known"),
                    f"jaxdqn's built-in metadata for {module_name}")
        raise ConfigError([Problem(
            "pyproject.toml", f"no pyproject.toml with a [tool.retro-gamer] table found above the module {module_name!r}",
            "the game's actions and reward are declared in that table (or in [metadata] of a run's config.toml)",
            f"add [metadata] to the run's config.toml (copy runs/snake/config.toml and edit it), or create "
            f"pyproject.toml next to the game with:\n{EXAMPLE_SECTION}")], f"game {module_name!r}")
    try:
        with open(pyproject, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem("pyproject.toml", f"is not valid TOML ({exc})",
                                   "the game's metadata cannot be read", "fix the syntax at the line shown")],
                          str(pyproject)) from None
    section = data.get("tool", {}).get("retro-gamer")
    if section is None:
        raise ConfigError([Problem("tool.retro-gamer", "the table is missing",
                                   "it declares the actions the agent may press and the reward it learns from",
                                   f"add to {pyproject}:\n{EXAMPLE_SECTION}")], str(pyproject))
    metadata = GameMetadata.from_dict(section, source=str(pyproject), field_prefix="tool.retro-gamer")
    return metadata, str(pyproject)


def game_factory(module_name: str, factory: str | None = None, path: str | None = None) -> Callable:
    """The zero-argument function that builds a new game: ``factory`` or the module's ``create_game``."""
    if factory:
        problems: list[Problem] = []
        import_game_module(module_name, path)  # put the game's folder on sys.path first
        check_reference(factory, "factory", "game", problems, "the function that builds a new game")
        raise_if(problems, "the game settings")
        return resolve(factory)
    module = import_game_module(module_name, path)
    if not hasattr(module, "create_game"):
        raise ConfigError([Problem("game.factory", f"module {module_name!r} has no create_game()",
                                   "the trainer needs a function that returns a fresh game for every episode",
                                   f'define create_game() in {module_name}, or set factory = "{module_name}:my_factory"')],
                          "the game settings")
    return module.create_game
