"""Host-side observation encoders: a game -> compact ``Observation`` (numpy).

The board is read straight from the game's agent positions (only occupied cells are
touched) instead of rendering a full character grid first, so encoding costs a few
microseconds and never becomes the bottleneck. Cell codes: 0 = empty or ignored
character, 1..C = ``character_set[code - 1]``, C + 1 = off the board (egocentric views
only, so the agent can tell a wall it would crash into from open space).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from retro.input import ProgrammaticInput
from retro.views._util import get_agent_character
from retro.views.headless import HeadlessView

from jaxdqn.core.types import Observation
from jaxdqn.errors import ConfigError, JaxdqnError, Problem

UNKNOWN_STRATEGIES = ("ignore", "error")


class UnknownCharacterError(JaxdqnError):
    pass


def _z(agent) -> int:
    return getattr(agent, "z", 0) or 0


def board_characters(game):
    """``((x, y), character)`` for each occupied cell, as retro-games' views draw it (highest z wins)."""
    for pos, agents in game.get_agents_by_position().items():
        top = agents[0] if len(agents) == 1 else max(agents, key=_z)
        ch = top.character
        yield pos, (ch if isinstance(ch, str) else get_agent_character(top, pos))


def state_values(key: str, value) -> list[float]:
    """A state value as floats: scalars give one, tuples and lists give one per element."""
    items = value if isinstance(value, tuple | list) else (value,)
    out = []
    for item in items:
        if isinstance(item, bool | int | float | np.number):
            out.append(float(item))
        else:
            raise JaxdqnError(
                f"observe_state key {key!r} holds {value!r}, which is not a number or a tuple of numbers. "
                f"Only numeric state values can be observed: remove {key!r} from observe_state, or store a number."
            )
    return out


@dataclass
class ObservationEncoder:
    """Turns a running game into an ``Observation``; every size is fixed at construction."""

    board_size: tuple[int, int] | None  # (width, height) of the game board
    character_set: list[str] = field(default_factory=list)
    board: bool = True
    observe_state: list[str] = field(default_factory=list)
    observe_state_sizes: dict[str, int] = field(default_factory=dict)
    egocentric_player: str | None = None  # set for an egocentric crop
    egocentric_radius: int | None = None
    unknown_character_strategy: str = "ignore"
    observation_function: Callable | None = None
    observation_size: int | None = None  # length of observation_function's output

    def __post_init__(self):
        self.unknown_seen: dict[str, int] = {}  # characters outside character_set met so far, and how often
        # ... met only on a game's last frame, which no action is chosen from (nav's wreck): harmless
        self.unknown_on_last_frame: dict[str, int] = {}
        self._codes = {ch: i + 1 for i, ch in enumerate(self.character_set)}
        self._off_board = len(self.character_set) + 1
        self._num_extras = (self.observation_size if self.observation_function is not None
                            else sum(self.observe_state_sizes[k] for k in self.observe_state))

    # --- shapes the network is built from -------------------------------------------------
    @property
    def egocentric(self) -> bool:
        return self.egocentric_player is not None

    @property
    def board_shape(self) -> tuple[int, int]:
        """(height, width) of the encoded board; (0, 0) without a board."""
        if not self.uses_board:
            return (0, 0)
        if self.egocentric:
            side = 2 * self.egocentric_radius + 1
            return (side, side)
        width, height = self.board_size
        return (height, width)

    @property
    def uses_board(self) -> bool:
        return self.board and self.observation_function is None

    @property
    def num_channels(self) -> int:
        if not self.uses_board:
            return 0
        return len(self.character_set) + (1 if self.egocentric else 0)

    @property
    def num_extras(self) -> int:
        return self._num_extras

    def empty(self) -> Observation:
        return Observation(np.zeros(self.board_shape, np.uint8), np.zeros((self.num_extras,), np.float32))

    # --- encoding ----------------------------------------------------------------------------
    def encode(self, game, last_frame: bool = False) -> Observation:
        """The observation of ``game`` now; ``last_frame``: the game just ended (no action is chosen from it)."""
        if self.observation_function is not None:
            return Observation(np.zeros((0, 0), np.uint8), self._custom(game))
        board = self._board(game, last_frame) if self.uses_board else np.zeros((0, 0), np.uint8)
        return Observation(board, self._extras(game.state))

    def _board(self, game, last_frame: bool = False) -> np.ndarray:
        width, height = game.board_size
        if not self.egocentric and (width, height) != tuple(self.board_size):
            raise JaxdqnError(
                f"board_size is {list(self.board_size)}, but the game's board is {[width, height]}. "
                f"Set board_size = {[width, height]} in [metadata] (the network's input changes, so start "
                "fresh), or remove board_size to have it measured.")
        cells = np.zeros((height, width), np.uint8)
        codes = self._codes
        for (x, y), ch in board_characters(game):
            code = codes.get(ch)
            if code is None:
                if ch == " ":
                    continue
                if self.unknown_character_strategy == "ignore":
                    counts = self.unknown_on_last_frame if last_frame else self.unknown_seen
                    counts[ch] = counts.get(ch, 0) + 1
                    continue
                raise UnknownCharacterError(
                    f"the board shows {ch!r} at {(x, y)}, which is not in character_set {self.character_set}. "
                    f"Add {ch!r} to character_set in config.toml (a new character changes the network, so "
                    "start fresh), remove character_set to discover it again, or set "
                    'unknown_character_strategy = "ignore" to treat it as empty.')
            if 0 <= x < width and 0 <= y < height:
                cells[y, x] = code
        if self.egocentric:
            return self._crop(cells, game)
        return cells

    def _crop(self, cells: np.ndarray, game) -> np.ndarray:
        """The (2r+1) x (2r+1) window centred on the player; cells past the edge are off-board."""
        r = self.egocentric_radius
        height, width = cells.shape
        px, py = player_position(game, self.egocentric_player)
        xs, ys = np.arange(px - r, px + r + 1), np.arange(py - r, py + r + 1)
        in_x, in_y = (xs >= 0) & (xs < width), (ys >= 0) & (ys < height)
        out = np.full((2 * r + 1, 2 * r + 1), self._off_board, np.uint8)
        out[np.ix_(in_y, in_x)] = cells[np.ix_(ys[in_y], xs[in_x])]
        return out

    def _extras(self, state) -> np.ndarray:
        out = np.empty((self._num_extras,), np.float32)
        i = 0
        for key in self.observe_state:
            if key not in state:
                raise JaxdqnError(f"observe_state key {key!r} is no longer in the game's state; "
                                  f"the state now has {sorted(state)}.")
            value = state[key]
            n = self.observe_state_sizes[key]
            if n == 1 and isinstance(value, float | int):  # the common case, without building a list
                out[i] = value
                i += 1
                continue
            values = state_values(key, value)
            if len(values) != n:
                raise JaxdqnError(
                    f"observe_state key {key!r} now holds {len(values)} value(s), but observe_state_sizes "
                    f"fixed it at {n}. The network's input size cannot change during training: make the game "
                    f"keep {key!r} at {n} value(s), or set observe_state_sizes.{key} = {len(values)} and start fresh.")
            out[i:i + n] = values
            i += n
        return out

    def _custom(self, game) -> np.ndarray:
        out = np.asarray(self.observation_function(game), dtype=np.float32).ravel()
        if out.shape[0] != self._num_extras:
            raise JaxdqnError(
                f"observation_function returned {out.shape[0]} values, but its first call returned "
                f"{self._num_extras}. It must return the same number of values every turn.")
        return out


def player_position(game, name: str) -> tuple[int, int]:
    agent = game.agents_by_name.get(name)
    if agent is None:
        raise JaxdqnError(
            f"egocentric_player = {name!r}, but the game has no agent with that name; its named agents are "
            f"{sorted(game.agents_by_name)}. Set egocentric_player in [preprocessing] to one of them.")
    return agent.position


# --- discovery: sizes and characters measured from the game itself ----------------------------

def start_game(factory: Callable, headless_view: bool = False):
    """A fresh game wired for programmatic input and no terminal.

    Without ``headless_view`` nothing renders at all (the encoder reads agent positions);
    with it, ``game.view.board_characters`` is kept up to date, as custom observation
    functions written for the reference may expect.
    """
    game = factory()
    game.input_source = ProgrammaticInput()
    game.view = HeadlessView() if headless_view else None
    game.start()
    if headless_view:
        game.view.render(game)
    return game


def discover_character_set(factory: Callable, actions: list[str], turns: int,
                           rng: random.Random | None = None, from_source: bool = True) -> list[str]:
    """Play ``turns`` random turns (restarting finished games) and return the characters seen, sorted, with
    those the game's code gives its agents (:func:`agent_characters`): random play rarely shows what a
    good player makes happen, such as a long snake's body. ``from_source=False``: random play only, as the
    reference discovers them."""
    rng = rng or random.Random()
    choices = list(actions) + [None]
    seen: set[str] = set()
    game = start_game(factory)
    for _ in range(turns):
        seen.update(ch for _, ch in board_characters(game))
        game.input_source.press(rng.choice(choices))
        game.step()
        if not game.playing:
            game = start_game(factory)
    seen.update(ch for _, ch in board_characters(game))
    if from_source:
        seen.update(agent_characters(game))
    seen.discard(" ")
    return sorted(seen)


def agent_characters(game) -> set[str]:
    """The one-character strings the game's code assigns to a ``character`` (a class attribute such as
    ``character = '*'``, or ``self.character = '>'``), read from the source of the modules that define the
    game and its agents. Nothing is run; a module without readable source gives nothing."""
    import ast
    import inspect
    import sys

    modules = {type(game).__module__, *(type(agent).__module__ for agent in getattr(game, "agents", []))}
    found: set[str] = set()
    for name in modules:
        module = sys.modules.get(name)
        if module is None or name == "builtins" or name.startswith("retro.") and not name.startswith("retro.examples."):
            continue  # the framework's own modules define no game's characters
        try:
            tree = ast.parse(inspect.getsource(module))
        except (OSError, TypeError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str) and len(value.value) == 1
                    and value.value.isprintable()):
                continue
            if any(isinstance(t, ast.Name) and t.id == "character" or isinstance(t, ast.Attribute)
                   and t.attr == "character" for t in targets):
                found.add(value.value)
    return found


def discover_observe_state_sizes(state, keys: list[str]) -> dict[str, int]:
    """How many values each observed key holds in one sampled state."""
    problems = []
    sizes = {}
    for key in keys:
        if key not in state:
            problems.append(Problem("preprocessing.observe_state", f"{key!r} is not a key of the game's state",
                                    f"the state of a new game has keys {sorted(state)}",
                                    f"use one of those, e.g. observe_state = [{sorted(state)[0]!r}]"
                                    if state else "remove it"))
            continue
        try:
            sizes[key] = len(state_values(key, state[key]))
        except JaxdqnError as exc:
            problems.append(Problem("preprocessing.observe_state", str(exc).split(". ")[0],
                                    "the network's extra inputs are numbers", f"remove {key!r} from observe_state"))
    if problems:
        raise ConfigError(problems, "the observed state")
    return sizes


def measure_observation_size(function: Callable, game) -> int:
    return int(np.asarray(function(game), dtype=np.float32).size)
