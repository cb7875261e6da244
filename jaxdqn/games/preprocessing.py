"""``[preprocessing]``: what the agent observes, checked up front and turned into an encoder.

Sizes the user did not give (character set, board size, observe_state sizes, the length of a
custom observation) are measured from the game once, returned as ``discovered`` so the
trainer can record them in config.toml, and fixed from then on.
"""
from __future__ import annotations

import random
from typing import Callable

from jaxdqn.errors import Problem, is_int, raise_if, unknown_keys
from jaxdqn.games import encoding
from jaxdqn.games.encoding import ObservationEncoder
from jaxdqn.games.metadata import GameMetadata, resolve

DEFAULTS = {
    "spatial": False,
    "board": True,
    "observe_state": [],
    "observe_state_sizes": {},
    "egocentric": False,
    "egocentric_player": None,
    "egocentric_radius": None,
}


def validate_preprocessing(pre: dict, metadata: GameMetadata | None = None) -> list[Problem]:
    """Every problem in a ``[preprocessing]`` table (types and combinations)."""
    problems: list[Problem] = []
    f = "preprocessing"
    problems.extend(unknown_keys(pre, DEFAULTS, f, "preprocessing key"))
    for key in ("spatial", "board", "egocentric"):
        if key in pre and not isinstance(pre[key], bool):
            problems.append(Problem(f"{f}.{key}", f"{pre[key]!r} is not true or false",
                                    "it is a switch", f"{key} = {str(DEFAULTS[key]).lower()}"))
    observe = pre.get("observe_state", [])
    if not (isinstance(observe, list) and all(isinstance(k, str) for k in observe)):
        problems.append(Problem(f"{f}.observe_state", f"{observe!r} is not a list of state keys",
                                "each entry names a value in the game's state dict to feed the network",
                                'observe_state = ["apple_dx", "apple_dy"]'))
        observe = []
    sizes = pre.get("observe_state_sizes", {})
    if not (isinstance(sizes, dict) and all(is_int(v) and v > 0 for v in sizes.values())):
        problems.append(Problem(f"{f}.observe_state_sizes", f"{sizes!r} is not a table of positive integers",
                                "each entry fixes how many numbers a state key holds",
                                "remove observe_state_sizes to have it measured"))
    elif any(k not in observe for k in sizes):
        extra = [k for k in sizes if k not in observe]
        problems.append(Problem(f"{f}.observe_state_sizes", f"names {extra}, which are not in observe_state",
                                "sizes are only meaningful for observed keys", "remove those entries"))
    board = pre.get("board", True)
    spatial = pre.get("spatial", metadata.spatial if metadata else False)
    if board is False and spatial is True:
        problems.append(Problem(f"{f}.board", "is false while spatial = true",
                                "a convolutional network needs a 2-D board to look at",
                                "set spatial = false, or keep board = true"))
    has_custom = metadata is not None and metadata.observation_function is not None
    if board is False and not observe and not has_custom:
        problems.append(Problem(f"{f}.board", "is false and observe_state is empty",
                                "with no board and no state values the agent would observe nothing",
                                'observe_state = ["score"]  (or board = true)'))
    if has_custom and observe:
        problems.append(Problem(f"{f}.observe_state", "is set together with metadata.observation_function",
                                "observation_function replaces the whole built-in observation, so observe_state "
                                "would be silently ignored", "remove one of the two"))
    if pre.get("egocentric") is True:
        radius = pre.get("egocentric_radius")
        if radius is None:
            problems.append(Problem(f"{f}.egocentric_radius", "is missing while egocentric = true",
                                    "the radius fixes the size of the window the agent sees around itself",
                                    "egocentric_radius = 5   # an 11 x 11 view"))
        elif not (is_int(radius) and radius > 0):
            problems.append(Problem(f"{f}.egocentric_radius", f"{radius!r} is not a positive integer",
                                    "the view is (2 * radius + 1) cells wide", "egocentric_radius = 5"))
        if not isinstance(pre.get("egocentric_player"), str):
            problems.append(Problem(f"{f}.egocentric_player", "is missing while egocentric = true",
                                    "the view is centred on the agent with this name",
                                    'egocentric_player = "player"   # the name attribute of your agent'))
        if board is False:
            problems.append(Problem(f"{f}.egocentric", "is true while board = false",
                                    "an egocentric view is a crop of the board", "set board = true"))
    return problems


def build_encoder(
    factory: Callable,
    metadata: GameMetadata,
    pre: dict,
    *,
    exploration_turns: int = 200,
    unknown_character_strategy: str = "ignore",
    rng: random.Random | None = None,
) -> tuple[ObservationEncoder, dict]:
    """An encoder for ``pre`` (validated), plus the values that had to be measured from the game."""
    pre = {**DEFAULTS, **pre}
    raise_if(validate_preprocessing(pre, metadata), "[preprocessing]")
    discovered: dict = {}
    custom = resolve(metadata.observation_function) if metadata.observation_function else None
    sample = encoding.start_game(factory, headless_view=custom is not None)
    board_size = tuple(metadata.board_size) if metadata.board_size else tuple(sample.board_size)
    if metadata.board_size is None:
        discovered["board_size"] = list(board_size)
    if pre["egocentric"]:
        encoding.player_position(sample, pre["egocentric_player"])  # clear message for a wrong name
    uses_board = pre["board"] and custom is None
    chars = metadata.character_set
    if uses_board and chars is None:
        chars = encoding.discover_character_set(factory, metadata.actions, exploration_turns, rng)
        discovered["character_set"] = chars
    sizes = dict(pre["observe_state_sizes"])
    missing = [k for k in pre["observe_state"] if k not in sizes]
    if missing:
        sizes.update(encoding.discover_observe_state_sizes(dict(sample.state), missing))
        discovered["observe_state_sizes"] = {k: sizes[k] for k in pre["observe_state"]}
    encoder = ObservationEncoder(
        board_size=board_size,
        character_set=list(chars or []),
        board=pre["board"],
        observe_state=list(pre["observe_state"]),
        observe_state_sizes=sizes,
        egocentric_player=pre["egocentric_player"] if pre["egocentric"] else None,
        egocentric_radius=pre["egocentric_radius"] if pre["egocentric"] else None,
        unknown_character_strategy=unknown_character_strategy,
        observation_function=custom,
        observation_size=encoding.measure_observation_size(custom, sample) if custom else None,
    )
    return encoder, discovered
