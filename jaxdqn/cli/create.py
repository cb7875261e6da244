"""``jaxdqn create GAME RUN_DIR``: a new run directory with a commented config.toml."""
from __future__ import annotations

import argparse
from pathlib import Path

from jaxdqn.errors import JaxdqnError


def _hyperparam_options(parser) -> None:
    from jaxdqn.config.schema import TRAINING_KEYS

    group = parser.add_argument_group("hyperparameters (written into config.toml; defaults in brackets)")
    for key, (default, meaning) in TRAINING_KEYS.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{meaning} [{str(default).lower()}]")
        else:
            kind = {int: int, float: float}.get(type(default), str) if default is not None else int
            metavar = {int: "N", float: "X"}.get(kind, "NAME")
            shown = "drawn" if default is None else default
            group.add_argument(flag, dest=key, type=kind, default=None, metavar=metavar, help=f"{meaning} [{shown}]")
    group.add_argument("--hidden-sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                       metavar="N,N", help="hidden layer sizes, comma-separated [128,64]")


def add_parser(sub) -> None:
    p = sub.add_parser("create", help="make a run directory with a commented config.toml",
                       description="Read the game's [tool.retro-gamer] metadata (or jaxdqn's built-in metadata for "
                                   "retro.examples.snake), measure its board and write RUN_DIR/config.toml with "
                                   "every hyperparameter and its default. Checks every value first, and never "
                                   "overwrites an existing config.toml. This command imports GAME and runs its "
                                   "code.")
    p.add_argument("game", metavar="GAME",
                   help="a .py file, a package directory, or a module name (retro.examples.snake)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run directory to create, e.g. runs/nav")
    _hyperparam_options(p)
    p.add_argument("--no-estimate", dest="estimate", action="store_false",
                   help="for a spatial game (a CNN), skip timing a few updates to say what training will cost")
    p.set_defaults(func=run)


def parse_game(game: str) -> dict:
    """GAME as a .py file, a package directory or a module name -> {'module', 'path'?}."""
    p = Path(game)
    if p.suffix == ".py" or p.is_dir() or "/" in game:
        if not p.exists():
            raise JaxdqnError(f"{game} does not exist. GAME is a .py file, a package directory, or a module name "
                              "such as retro.examples.nav")
        if p.is_file() and p.suffix == ".py":
            return {"module": p.stem, "path": str(p.parent.resolve())}
        if p.is_dir() and (p / "__init__.py").exists():
            return {"module": p.name, "path": str(p.parent.resolve())}
        raise JaxdqnError(f"{game} is neither a .py file nor a package directory (a folder with __init__.py)")
    return {"module": game}


def _print_cost(spec, factory, metadata, encoder, hp) -> None:
    """Times a few CNN updates and some random play here, and says what the run will cost."""
    from jaxdqn.games.env import GameEnv
    from jaxdqn.trainers.cost import describe_cost, measure

    print("  cost        : measuring a few updates and random games here (--no-estimate skips this) ...",
          flush=True)
    env = GameEnv(factory, metadata.actions, metadata.reward, encoder)
    cost = measure(spec, env, batch_size=hp["batch_size"], max_turns=hp["max_turns_per_episode"])
    lines = describe_cost(cost, train_every=hp["train_every"], episodes=hp["training_episodes"])
    print("\n".join("                " + line for line in lines))


def run(args) -> int:
    from jaxdqn.config import CONFIG_NAME
    from jaxdqn.config.assembly import network_spec
    from jaxdqn.config.schema import MODEL_DEFAULTS, TRAINING_DEFAULTS, TRAINING_KEYS, validate_model, validate_training
    from jaxdqn.config.writing import write_config
    from jaxdqn.errors import raise_if
    from jaxdqn.games.encoding import start_game
    from jaxdqn.games.known import known_game
    from jaxdqn.games.metadata import game_factory, load_pyproject_metadata
    from jaxdqn.games.preprocessing import build_encoder

    run_dir = Path(args.run_dir)
    config_path = run_dir / CONFIG_NAME
    if config_path.exists():
        raise JaxdqnError(f"{config_path} already exists and is left as it is. Choose another RUN_DIR, or edit "
                          "that file.")
    values = {k: getattr(args, k) for k in TRAINING_KEYS if getattr(args, k, None) is not None}
    hidden = args.hidden_sizes or MODEL_DEFAULTS["hidden_sizes"]
    raise_if(validate_model({"hidden_sizes": hidden}) + validate_training(values), "the options",
             footer="Nothing was written. Fix the options above and run the same command again.")
    game = parse_game(args.game)
    metadata, source = load_pyproject_metadata(game["module"], game.get("path"))
    factory = game_factory(game["module"], metadata.factory, game.get("path"))
    width, height = start_game(factory).board_size
    metadata.board_size = (width, height)
    known = known_game(game["module"]) or {}
    preprocessing = {"spatial": metadata.spatial, **known.get("preprocessing", {})}
    write_config(run_dir, game=game, metadata=metadata.to_dict(), preprocessing=preprocessing,
                 hidden_sizes=hidden, training=values,
                 header=[f"jaxdqn run for {game['module']}. Train with:  jaxdqn train {run_dir}",
                         f"Metadata copied from {source}; measured values are added when training starts."])

    chars = metadata.character_set
    arch = "CNN (spatial)" if metadata.spatial else "MLP"
    print(f"Created {config_path}")
    print(f"  game        : {game['module']}" + (f"  (from {game['path']})" if "path" in game else ""))
    print(f"  board       : {width} x {height}")
    print(f"  actions     : {metadata.actions} + no-op")
    print(f"  reward      : change of state[{metadata.reward!r}]")
    print(f"  characters  : {chars if chars else 'will be discovered when training starts'}")
    if preprocessing.get("observe_state"):
        print(f"  observes    : the board and {preprocessing['observe_state']}")
    print(f"  architecture: {arch}, hidden layers {hidden}")
    if chars:
        from jaxdqn.config.architecture import describe
        encoder, _ = build_encoder(factory, metadata, preprocessing, exploration_turns=0)
        spec = network_spec(encoder, hidden, metadata.num_actions, metadata.spatial)
        print("\n".join("  " + line.removeprefix("[INIT] ") for line in describe(spec, table=False).splitlines()[1:]))
        if spec.spatial and args.estimate:
            _print_cost(spec, factory, metadata, encoder, {**TRAINING_DEFAULTS, **values})
    print(f"Next: jaxdqn train {run_dir}")
    return 0
