"""The ``jaxdqn`` command: create, train, play, eval, plot, info and clean a run directory."""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from jaxdqn.errors import JaxdqnError

RUN_DIR_HELP = "a run directory containing config.toml, e.g. runs/snake"


# ---------------------------------------------------------------- create
def _parse_game(game: str) -> dict:
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


def cmd_create(args) -> int:
    import tomlkit

    from jaxdqn.config import CONFIG_NAME, MODEL_DEFAULTS, TRAINING_KEYS
    from jaxdqn.games.encoding import start_game
    from jaxdqn.games.metadata import game_factory, load_pyproject_metadata
    from jaxdqn.networks import NetworkSpec, describe

    run_dir = Path(args.run_dir)
    config_path = run_dir / CONFIG_NAME
    if config_path.exists():
        raise JaxdqnError(f"{config_path} already exists and is left as it is. Choose another RUN_DIR, or edit "
                          "that file.")
    game = _parse_game(args.game)
    metadata, pyproject = load_pyproject_metadata(game["module"], game.get("path"))
    factory = game_factory(game["module"], metadata.factory, game.get("path"))
    width, height = start_game(factory).board_size
    metadata.board_size = (width, height)
    values = {k: getattr(args, k) for k in TRAINING_KEYS if getattr(args, k, None) is not None}
    hidden = args.hidden_sizes or MODEL_DEFAULTS["hidden_sizes"]

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"jaxdqn run for {game['module']}. Train with:  jaxdqn train {run_dir}"))
    doc.add(tomlkit.comment(f"Metadata copied from {pyproject}; measured values are added when training starts."))
    doc.add(tomlkit.nl())
    game_table = tomlkit.table()
    for key, value in game.items():
        game_table[key] = value
    doc["game"] = game_table
    meta_table = tomlkit.table()
    for key, value in metadata.to_dict().items():
        meta_table[key] = value
    doc["metadata"] = meta_table
    pre = tomlkit.table()
    pre["spatial"] = metadata.spatial
    pre.add(tomlkit.comment('observe_state = ["score"]   # game-state values to observe besides the board'))
    doc["preprocessing"] = pre
    model = tomlkit.table()
    model.add("hidden_sizes", tomlkit.item(hidden).comment("units per hidden layer"))
    doc["model"] = model
    training = tomlkit.table()
    for key, (default, meaning) in TRAINING_KEYS.items():
        value = values.get(key, default)
        if value is None:
            training.add(tomlkit.comment(f"{key} = 1   # {meaning}"))
            continue
        training.add(key, tomlkit.item(value).comment(meaning))
    doc["training"] = training
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(tomlkit.dumps(doc), encoding="utf-8")

    chars = metadata.character_set
    spec = NetworkSpec(height, width, len(chars or []), 0, tuple(hidden), metadata.num_actions, metadata.spatial)
    arch = "CNN (spatial)" if metadata.spatial else "MLP"
    print(f"Created {config_path}")
    print(f"  game        : {game['module']}" + (f"  (from {game['path']})" if "path" in game else ""))
    print(f"  board       : {width} x {height}")
    print(f"  actions     : {metadata.actions} + no-op")
    print(f"  reward      : change of state[{metadata.reward!r}]")
    print(f"  characters  : {chars if chars else 'will be discovered when training starts'}")
    print(f"  architecture: {arch}, hidden layers {hidden}")
    if chars:
        print("\n".join("  " + line.removeprefix("[INIT] ") for line in describe(spec).splitlines()[1:]))
    print(f"Next: jaxdqn train {run_dir}")
    return 0


# ---------------------------------------------------------------- train
def cmd_train(args) -> int:
    from jaxdqn.train import run_training
    return run_training(args.run_dir)


# ---------------------------------------------------------------- play
def cmd_play(args) -> int:
    from jaxdqn.games.encoding import start_game
    from jaxdqn.policy import PolicyInput, TrainedPolicy

    policy = TrainedPolicy(args.run_dir, args.checkpoint)
    if args.headless:
        game = start_game(policy.factory)
        game.input_source = PolicyInput(policy, game)
        turns = 0
        while game.playing and (args.turns is None or turns < args.turns):
            game.step()
            turns += 1
        reward = game.state.get(policy.metadata.reward)
        print(f"{policy.checkpoint}: played {turns} turns; {policy.metadata.reward} = {reward}; "
              f"{'game over' if not game.playing else 'still playing'}")
        return 0
    return _play_in_terminal(policy, args.framerate, args.turns)


def _play_in_terminal(policy, framerate: int, max_turns: int | None) -> int:
    from time import perf_counter, sleep

    from blessed import Terminal
    from retro.views.terminal import TerminalView

    from jaxdqn.games.encoding import start_game
    from jaxdqn.policy import PolicyInput

    terminal = Terminal()
    if not terminal.is_a_tty:
        raise JaxdqnError("jaxdqn play needs a terminal; use --headless to play without one.")
    game = start_game(policy.factory)
    game.input_source = PolicyInput(policy, game)
    print(f"Playing {policy.checkpoint} (Escape or Enter quits)...")
    turns = 0
    with terminal.fullscreen(), terminal.hidden_cursor(), terminal.cbreak():
        game.view = TerminalView(terminal, color=getattr(game, "color", "white_on_black"))
        game.view.on_game_start(game)
        while game.playing and (max_turns is None or turns < max_turns):
            start = perf_counter()
            key = terminal.inkey(0)
            if key and key.name in ("KEY_ESCAPE", "KEY_ENTER"):
                break
            game.step()
            turns += 1
            sleep(max(0.0, 1 / framerate - (perf_counter() - start)))
    print(f"{turns} turns; {policy.metadata.reward} = {game.state.get(policy.metadata.reward)}")
    return 0


# ---------------------------------------------------------------- eval
def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def evaluate(run_dir, episodes: int, checkpoint: str | None = None, seed: int | None = None,
             max_turns: int | None = None) -> dict:
    """Greedy play (no exploration) for ``episodes`` episodes; statistics of reward, final reward value, length."""
    import random

    from jaxdqn.games.env import GameEnv
    from jaxdqn.policy import TrainedPolicy

    policy = TrainedPolicy(run_dir, checkpoint)
    if seed is not None:
        random.seed(seed)
    env = GameEnv(policy.factory, policy.metadata.actions, policy.metadata.reward, policy.encoder)
    limit = max_turns or policy.config.training["max_turns_per_episode"]
    rewards, finals, lengths = [], [], []
    for _ in range(episodes):
        obs = env.reset()
        total, turns, done = 0.0, 0, False
        while not done and turns < limit:
            obs, reward, done = env.step(policy.greedy(obs))
            total += reward
            turns += 1
        rewards.append(total)
        finals.append(float(env.game.state[policy.metadata.reward]))
        lengths.append(turns)
    return {"run_dir": str(run_dir), "checkpoint": policy.checkpoint, "episodes": episodes, "seed": seed,
            "reward_key": policy.metadata.reward, "episode_reward": _summary(rewards),
            "final_reward_value": _summary(finals), "episode_length": _summary(lengths)}


def cmd_eval(args) -> int:
    result = evaluate(args.run_dir, args.episodes, args.checkpoint, args.seed, args.max_turns)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['checkpoint']}: {args.episodes} greedy episodes" + (f", seed {args.seed}" if args.seed is not None else ""))
    for label, key in (("episode reward", "episode_reward"), ("final reward value", "final_reward_value"),
                       ("episode length", "episode_length")):
        s = result[key]
        print(f"  {label:<19} mean {s['mean']:9.2f}  std {s['std']:8.2f}  min {s['min']:9.2f}  max {s['max']:9.2f}")
    return 0


# ---------------------------------------------------------------- plot
def plot_run(run_dir: Path, output: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxdqn.training_log import LOG_NAME, parse_log

    log = run_dir / LOG_NAME
    if not log.exists():
        raise JaxdqnError(f"{log} does not exist; train first: jaxdqn train {run_dir}")
    stats = parse_log(log)
    if not stats:
        raise JaxdqnError(f"{log} has no checkpoint lines yet; plots need at least one finished interval.")
    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise JaxdqnError(f"cannot write {output}: use a .png, .svg or .pdf file name")
    episodes = [s.episode for s in stats]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    for ax, (label, values) in zip(axes.flat, (
            ("average reward", [s.avg_reward for s in stats]), ("average steps", [s.avg_steps for s in stats]),
            ("average loss", [s.avg_loss for s in stats]), ("epsilon", [s.epsilon for s in stats]))):
        ax.plot(episodes, values, marker="." if len(episodes) < 60 else None)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("episode")
    fig.suptitle(f"{run_dir.name}: {stats[-1].episode} episodes, {stats[-1].total_seconds / 60:.1f} min of training")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def cmd_plot(args) -> int:
    run_dir = Path(args.run_dir)
    output = Path(args.output) if args.output else run_dir / "training.png"
    print(f"Wrote {plot_run(run_dir, output)}")
    return 0


# ---------------------------------------------------------------- info
def cmd_info(args) -> int:
    from jaxdqn.checkpoints import Checkpoints
    from jaxdqn.config import TRAINING_DEFAULTS, load_config
    from jaxdqn.device import select_device
    from jaxdqn.training_log import LOG_NAME, format_duration, parse_log

    config = load_config(args.run_dir)
    run_dir = Path(args.run_dir)
    print(f"Run            : {run_dir.resolve()}")
    print(f"Game           : {config.game['module']}" + (f" (factory {config.game['factory']})" if config.game.get("factory") else ""))
    print(f"Metadata       : {config.metadata.to_dict()}")
    print(f"Preprocessing  : { {k: v for k, v in config.preprocessing.items() if v not in (None, [], {})} }")
    print(f"Model          : {config.model}")
    changed = {k: v for k, v in config.training.items() if v != TRAINING_DEFAULTS[k]}
    print(f"Training       : defaults, except {changed}" if changed else "Training       : all defaults")
    try:
        print(f"Device (now)   : {select_device(config.training['device']).description}")
    except JaxdqnError as exc:
        print(f"Device (now)   : unavailable: {exc}")
    ckpt_dir = run_dir / "checkpoints"
    if ckpt_dir.exists():
        checkpoints = Checkpoints(ckpt_dir)
        try:
            names = checkpoints.names()
            print(f"Checkpoints    : {len(names)}: {', '.join(names) if names else 'none'}")
            if names:
                meta = checkpoints.read_meta(checkpoints.latest())
                print(f"Latest         : episode {meta['episode']}, {meta['total_steps']:,} steps, "
                      f"{format_duration(meta['total_training_seconds'])} of training, epsilon {meta['epsilon']:.3f}, "
                      f"trained on {meta.get('device', '?')}, seed {meta.get('seed')}")
        finally:
            checkpoints.close()
    else:
        print("Checkpoints    : none (not trained yet)")
    stats = parse_log(run_dir / LOG_NAME)
    if stats:
        print("Recent intervals:")
        for s in stats[-5:]:
            n = s.episode - s.first_episode + 1
            rate = n * s.avg_steps / s.seconds if s.seconds else float("nan")
            print(f"  ep {s.first_episode:>5}-{s.episode:<5} avg_reward {s.avg_reward:+8.1f}  "
                  f"epsilon {s.epsilon:.3f}  {rate:8,.0f} steps/s")
    return 0


# ---------------------------------------------------------------- clean
def cmd_clean(args) -> int:
    from jaxdqn.training_log import LOG_NAME

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise JaxdqnError(f"run directory {run_dir} does not exist")
    targets = []
    ckpt_dir = run_dir / "checkpoints"
    if ckpt_dir.exists():
        targets += sorted(p for p in ckpt_dir.iterdir())
    if (run_dir / LOG_NAME).exists():
        targets.append(run_dir / LOG_NAME)
    if not targets:
        print(f"Nothing to clean in {run_dir}.")
        return 0
    print(f"This removes from {run_dir} (config.toml stays):")
    for p in targets:
        print(f"  {p.relative_to(run_dir)}{'/' if p.is_dir() else ''}")
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise JaxdqnError("not removing anything without confirmation; run again with --yes")
        if input("Remove these? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    for p in targets:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    if ckpt_dir.exists():
        ckpt_dir.rmdir()
    print(f"Cleaned. Start fresh with: jaxdqn train {run_dir}")
    return 0


# ---------------------------------------------------------------- parser
def _hyperparam_options(parser) -> None:
    from jaxdqn.config import TRAINING_KEYS

    group = parser.add_argument_group("hyperparameters (written into config.toml; defaults in brackets)")
    for key, (default, meaning) in TRAINING_KEYS.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{meaning} [{str(default).lower()}]")
        else:
            kind = {int: int, float: float}.get(type(default), str) if default is not None else int
            group.add_argument(flag, dest=key, type=kind, default=None, metavar=key.split("_")[-1].upper(),
                               help=f"{meaning} [{default}]")
    group.add_argument("--hidden-sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                       metavar="N,N", help="hidden layer sizes, comma-separated [128,64]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxdqn", description="Teach a DQN agent to play a retro-games game.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("create", help="make a run directory with a commented config.toml",
                       description="Read the game's [tool.retro-gamer] metadata, measure its board and write "
                                   "RUN_DIR/config.toml with every hyperparameter and its default. Never "
                                   "overwrites an existing config.toml.")
    p.add_argument("game", metavar="GAME", help="a .py file, a package directory, or a module name (retro.examples.nav)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run directory to create, e.g. runs/nav")
    _hyperparam_options(p)
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("train", help="train, resuming from the newest checkpoint",
                       description="The same as python -m jaxdqn.train RUN_DIR. Ctrl+C saves a checkpoint and stops.")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("play", help="watch the trained agent play in the terminal",
                       description="The agent plays greedily in the terminal; Escape or Enter quits.")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--checkpoint", help="e.g. ep_0100 (default: the newest)")
    p.add_argument("--framerate", type=int, default=12, help="turns per second [12]")
    p.add_argument("--turns", type=int, default=None, help="stop after this many turns")
    p.add_argument("--headless", action="store_true", help="play without a terminal and print the result")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("eval", help="greedy evaluation over several episodes",
                       description="Play K episodes with the greedy policy (no exploration) and report mean, std, "
                                   "min and max of episode reward, the game's reward value at the end, and length.")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--episodes", "-k", type=int, default=20, help="episodes to play [20]")
    p.add_argument("--checkpoint", help="e.g. ep_0100 (default: the newest)")
    p.add_argument("--seed", type=int, default=None, help="seed the game's random numbers for a repeatable result")
    p.add_argument("--max-turns", type=int, default=None, help="cut episodes off here [max_turns_per_episode]")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("plot", help="plot reward, steps, loss and epsilon from training.log",
                       description="Write a figure of the checkpoint intervals in training.log (no display needed).")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("-o", "--output", help="file to write; .png, .svg or .pdf [RUN_DIR/training.png]")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("info", help="summarise a run", description="Settings, device, checkpoints, progress and speed.")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("clean", help="remove checkpoints and training.log (never config.toml)",
                       description="List what would be removed and ask first (unless --yes).")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.set_defaults(func=cmd_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jaxdqn.train import report_unexpected

    args = build_parser().parse_args(argv)
    cwd = str(Path.cwd())
    if cwd not in sys.path:  # game modules are often plain files next to where the user runs jaxdqn
        sys.path.insert(0, cwd)
    try:
        return args.func(args)
    except JaxdqnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - no tracebacks for users
        return report_unexpected(exc)


if __name__ == "__main__":
    sys.exit(main())
