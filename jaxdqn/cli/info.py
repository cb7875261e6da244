"""``jaxdqn info RUN_DIR``: what a run is, how far it got, and whether its checkpoints restore."""
from __future__ import annotations

from pathlib import Path

from jaxdqn.cli import READS_FILES_ONLY, RUN_DIR_HELP


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarise a run",
                       description="Game, settings, device, checkpoints (each read back to check it restores), "
                                   "progress and speed. " + READS_FILES_ONLY)
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.set_defaults(func=run)


def _row(label: str, text: str) -> None:
    print(f"{label:<15}: {text}")


def _interval_rates(run_dir: Path, stats) -> dict[int, float]:
    """Steps per second of each logged interval, from metrics.csv's training clock (compile time excluded)."""
    from jaxdqn.run.metrics import METRICS_NAME, read_metrics

    rows = {int(r["episode"]): r for r in read_metrics(run_dir / METRICS_NAME)}
    rates = {}
    for s in stats:
        last, before = rows.get(s.episode), rows.get(s.first_episode - 1)
        if last is None or (before is None and s.first_episode != 1):
            continue
        seconds = float(last["training_seconds"]) - (float(before["training_seconds"]) if before else 0.0)
        steps = sum(int(rows[e]["steps"]) for e in range(s.first_episode, s.episode + 1) if e in rows)
        if seconds > 0:
            rates[s.episode] = steps / seconds
    return rates


def run(args) -> int:
    from jaxdqn.config import load_config
    from jaxdqn.config.schema import TRAINING_DEFAULTS
    from jaxdqn.errors import JaxdqnError
    from jaxdqn.run.checkpoints import CheckpointRemoved, Checkpoints, checkpoint_name
    from jaxdqn.run.log import LOG_NAME, format_duration, parse_log

    run_dir = Path(args.run_dir)
    config = load_config(run_dir, import_game=False)
    game = config.game
    _row("Run", str(run_dir.resolve()))
    _row("Game", game["module"] + (f" (factory {game['factory']})" if game.get("factory") else "")
         + (f", from {game['path']}" if game.get("path") else ""))
    meta = config.metadata
    if meta is None:
        _row("Metadata", "the game's own, from its pyproject.toml or, for a game written in JAX, its metadata "
             "attribute (not read here: info never imports the game)")
    else:
        _row("Actions", ", ".join(meta.actions) + " + no-op")
        _row("Reward", f"the change of state[{meta.reward!r}] each turn")
        _row("Characters", " ".join(meta.character_set) if meta.character_set else "not recorded yet (measured "
             "when training starts)")
        if meta.board_size:
            _row("Board", f"{meta.board_size[0]} x {meta.board_size[1]}")
    pre = config.preprocessing
    seen = []
    if pre.get("board", True) and not (meta and meta.observation_function):
        seen.append(f"egocentric view of radius {pre['egocentric_radius']} around {pre['egocentric_player']!r}"
                    if pre.get("egocentric") else "the board")
    if meta and meta.observation_function:
        seen.append(f"{meta.observation_function}(game)")
    seen += list(pre.get("observe_state", []))
    _row("Observes", ", ".join(seen))
    hidden = ", ".join(str(h) for h in config.model["hidden_sizes"])
    _row("Network", f"{'CNN (spatial)' if pre.get('spatial') else 'MLP'}, hidden layers {hidden}")
    changed = [f"{k} = {v!r}" for k, v in config.training.items() if v != TRAINING_DEFAULTS[k]]
    _row("Training", "defaults, except " + ", ".join(changed) if changed else "all defaults")
    try:
        from jaxdqn.device import select_device
        _row("Device (now)", select_device(config.training["device"]).description)
    except JaxdqnError as exc:
        _row("Device (now)", f"unavailable: {exc}")

    checkpoints = Checkpoints(run_dir / "checkpoints")
    steps = checkpoints.steps()
    if not steps:
        _row("Checkpoints", "none (not trained yet)")
    else:
        print(f"Checkpoints    : {len(steps)}")
        for episode in steps:
            problem = checkpoints.verify(episode)
            status = ("ok" if problem is None else f"gone: {problem.reason}" if isinstance(problem, CheckpointRemoved)
                      else f"DAMAGED, does not restore: {problem.reason}")
            print(f"  {checkpoint_name(episode)}  {status}")
        for episode in reversed(steps):
            try:
                latest = checkpoints.read_meta(episode)
            except JaxdqnError:
                continue
            _row("Latest", f"episode {latest['episode']:,}, {latest['total_steps']:,} game steps, "
                 f"{format_duration(latest['total_training_seconds'])} of training, epsilon {latest['epsilon']:.3f}, "
                 f"trained on {latest.get('device', '?')}, seed {latest.get('seed')}")
            unknown = latest.get("unknown_characters") or {}
            if unknown:
                listed = ", ".join(f"{ch!r} ({n:,} cells)" for ch, n in sorted(unknown.items()))
                _row("Unknown chars", f"{listed}: not in character_set, so the network never saw them")
            break
    stats = parse_log(run_dir / LOG_NAME)
    if stats:
        rates = _interval_rates(run_dir, stats)
        print("Recent intervals:")
        for s in stats[-5:]:
            rate = f"{rates[s.episode]:8,.0f} steps/s" if s.episode in rates else "       - steps/s"
            print(f"  ep {s.first_episode:>6,}-{s.episode:<6,} avg reward {s.avg_reward:+8.1f}  "
                  f"avg length {s.avg_steps:6.0f}  epsilon {s.epsilon:.3f}  {rate}")
    return 0
