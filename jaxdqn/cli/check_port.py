"""``jaxdqn check-port GAME``: does a game written in JAX behave like the retro game it ports?"""
from __future__ import annotations

from pathlib import Path

from jaxdqn.cli import RUNS_GAME_CODE


def add_parser(sub) -> None:
    p = sub.add_parser("check-port", help="compare a game written in JAX with its retro twin",
                       description="Play the JAX game and the retro game it ports (its JaxGame's retro_module) "
                                   "with the same random policy, and compare episode returns and lengths (KS test "
                                   "and means), how often each board character shows, the ranges of observed state "
                                   "values and the first observation. Prints every comparison and PASS, or FAIL "
                                   "naming what differs (exit status 1). " + RUNS_GAME_CODE)
    p.add_argument("game", metavar="GAME",
                   help="a module that defines JAX_GAME (e.g. jaxdqn.jaxgames.nav), or a run directory that trains one")
    p.add_argument("--episodes", "-k", type=int, default=300, metavar="K", help="episodes on each side [300]")
    p.add_argument("--max-turns", type=int, default=2000, metavar="N", help="cut episodes off here [2000]")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of both sides' random play [0]")
    p.set_defaults(func=run)


def find_game(name: str):
    """The JaxGame a module defines, or the one a run directory trains; a clear error otherwise."""
    from jaxdqn.errors import JaxdqnError
    from jaxdqn.jaxgames.protocol import find_jax_game

    if Path(name).is_dir():
        from jaxdqn.config import load_config
        config = load_config(Path(name) / "config.toml")
        if config.jax_game is None:
            raise JaxdqnError(f"{name} trains {config.game['module']}, a retro game: check-port compares a game "
                              "written in JAX with the retro game it ports")
        return config.jax_game
    import importlib
    try:
        importlib.import_module(name)  # here for a clear message; find_jax_game then reads its JAX_GAME
    except ImportError as exc:
        raise JaxdqnError(f"GAME {name!r} is neither a run directory nor an importable module ({exc}); give a "
                          "module that defines JAX_GAME, e.g. jaxdqn.jaxgames.nav") from None
    game = find_jax_game(name)
    if game is None:
        raise JaxdqnError(f"module {name!r} defines no JAX_GAME = JaxGame(...): check-port compares a game "
                          "written in JAX with the retro game it ports (see the README, \"Writing a game in JAX\")")
    return game


def run(args) -> int:
    from jaxdqn.errors import JaxdqnError
    from jaxdqn.games.port_check import check_port

    for flag, value in (("--episodes", args.episodes), ("--max-turns", args.max_turns)):
        if value < 2:
            raise JaxdqnError(f"{flag} is {value}; it needs at least 2 to compare distributions")
    game = find_game(args.game)
    print(f"Playing {args.episodes} random episodes of the JAX game {game.name!r} and of {game.retro_module} ...")
    verdict = check_port(game, args.episodes, args.max_turns, args.seed)
    for line in verdict.lines:
        print(f"  {line}")
    if verdict.passed:
        print(f"PASS: {game.name} behaves like {game.retro_module} under random play.")
        return 0
    print(f"FAIL: {game.name} differs from {game.retro_module} in {len(verdict.differences)} of "
          f"{len(verdict.lines)} comparisons:")
    for line in verdict.differences:
        print(f"  {line}")
    return 1
