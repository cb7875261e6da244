"""Learning curves over seeds on snake: jaxdqn's host loop, its compiled loop with the reference's
semantics, and the PyTorch reference, trained the same way (default hyperparameters, observe_state
apple_dx/dy, no character set given).

    python benchmarks/learning_parity.py run --side host|host-body|compiled|reference --seeds 0 1 2 3 4 5 6 7 \\
        [--episodes 2500] [--jobs 2] [--reference-python PATH] --out DIR
    python benchmarks/learning_parity.py report DIR [--plot FILE]

``run`` writes one ``SIDE-seedN.json`` per seed (its 100-episode average rewards, as training.log has
them); ``report`` prints the table (peak 100-episode average, means over episodes 1601-2000 and
2101-2500, each side's mean with its 95% interval over seeds) and draws the mean curves with their
intervals. The reference side runs ``reference_probe.py curve`` under a Python that has torch and
retro-gamer, one thread per seed, ``--jobs`` seeds at a time. The compiled side trains its seeds
with one compiled program (``make_train``), a seed at a time, on the JAX snake, which sees the snake's
body ``*`` (its character set is fixed); ``host`` and the reference take their character sets from
random play, as the reference discovers them, and ``host-body`` from jaxdqn's own discovery, which also
reads the agents' characters from the game's code (the body ``*``).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

WINDOWS = {"mean over 1601-2000": (1601, 2000), "mean over 2101-2500": (2101, 2500)}
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131}


def host_curve(seed: int, episodes: int, from_source: bool = False) -> dict:
    import random

    from encoding import SNAKE_ACTIONS
    from retro.examples.snake import create_game

    from jaxdqn.games.encoding import discover_character_set
    from jaxdqn.games.metadata import GameMetadata
    from jaxdqn.trainers import DQNTrainer
    curve = []
    # the reference's discovery: random play only; jaxdqn's own (from_source) also reads the agents'
    # characters from the game's code, which adds the snake's body *
    characters = discover_character_set(create_game, SNAKE_ACTIONS, 200, random.Random(seed), from_source=from_source)
    with tempfile.TemporaryDirectory() as run_dir:
        with DQNTrainer(create_game, GameMetadata(SNAKE_ACTIONS, "reward", character_set=characters), run_dir,
                        {"observe_state": ["apple_dx", "apple_dy"]}, training_episodes=episodes, seed=seed) as trainer:
            trainer.train(on_checkpoint=lambda stats: curve.append(stats["avg_reward"]))
            characters = trainer.metadata.character_set
    return {"curve": curve, "character_set": characters}


def compiled_curves(seeds: list[int], episodes: int):
    """One compiled program, called once a seed (vmapped over eight seeds it ran for more than 26
    CPU-minutes here without finishing; one seed at a time shows progress and keeps memory small)."""
    import jax
    import numpy as np

    from jaxdqn.core import Settings, TrainConfig, make_train
    from jaxdqn.jaxgames import snake
    train = jax.jit(make_train(TrainConfig(snake.JAX_GAME, Settings(rows_width=64), episodes=episodes)))
    for seed in seeds:
        _, metrics = train(jax.random.PRNGKey(seed))
        rewards = np.asarray(metrics["episode_reward"]).reshape(-1, 100).mean(axis=1)
        yield seed, {"curve": [float(x) for x in rewards], "overflow": bool(np.asarray(metrics["overflow"])),
                     "character_set": snake.JAX_GAME.metadata["character_set"]}


def reference_curve(python: str, seed: int, episodes: int) -> dict:
    out = subprocess.run([python, str(HERE / "reference_probe.py"), "curve",
                          json.dumps({"seed": seed, "episodes": episodes})], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save(seed, result):
        (out / f"{args.side}-seed{seed}.json").write_text(json.dumps({"seed": seed, "episodes": args.episodes,
                                                                      **result}))
        print(f"{args.side} seed {seed}: {len(result['curve'])} points, last {result['curve'][-1]:+.1f}", flush=True)

    if args.side == "compiled":
        for seed, result in compiled_curves(args.seeds, args.episodes):
            save(seed, result)
    elif args.side in ("host", "host-body"):
        for seed in args.seeds:
            save(seed, host_curve(seed, args.episodes, from_source=args.side == "host-body"))
    else:
        from common import reference_python
        python = reference_python(args.reference_python)
        if python is None:
            sys.exit("the reference is not installed: pass --reference-python (a Python with torch and retro-gamer)")
        with ThreadPoolExecutor(args.jobs) as pool:
            for seed, result in zip(args.seeds, pool.map(lambda s: reference_curve(python, s, args.episodes),
                                                         args.seeds)):
                save(seed, result)


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% interval (Student's t over seeds)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    return mean, T975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))


def summarize(curves: list[list[float]]) -> dict:
    per_seed = {"peak 100-episode average": [max(c) for c in curves]}
    for name, (first, last) in WINDOWS.items():
        per_seed[name] = [statistics.fmean(c[first // 100:last // 100]) for c in curves if len(c) >= last // 100]
    return {name: (values, *interval(values)) for name, values in per_seed.items() if values}


def report(args) -> None:
    sides = {}
    for path in sorted(Path(args.dir).glob("*-seed*.json")):
        data = json.loads(path.read_text())
        sides.setdefault(path.name.split("-seed")[0], []).append(data)
    order = [s for s in ("reference", "host", "host-body", "compiled") if s in sides]
    names = {"reference": "reference (retro-gamer 0.4.0)", "host": "jaxdqn host loop, the reference's character set",
             "host-body": "jaxdqn host loop, its own discovery (sees the body *)",
             "compiled": "jaxdqn compiled loop, reference semantics (JAX snake)"}
    print("| | seeds | " + " | ".join(summarize([[0.0] * 25]).keys()) + " |")
    print("|---|---|" + "---|" * 3)
    for side in order:
        runs = sorted(sides[side], key=lambda d: d["seed"])
        summary = summarize([d["curve"] for d in runs])
        cells = [f"{mean:.1f} ± {half:.1f} ({', '.join(f'{v:.1f}' for v in values)})"
                 for values, mean, half in summary.values()]
        print(f"| {names[side]} | {', '.join(str(d['seed']) for d in runs)} | " + " | ".join(cells) + " |")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for side in order:
            curves = [d["curve"] for d in sides[side]]
            n = min(len(c) for c in curves)
            x = [100 * (i + 1) for i in range(n)]
            stats = [interval([c[i] for c in curves]) for i in range(n)]
            mean = [m for m, _ in stats]
            ax.plot(x, mean, label=f"{names[side]} ({len(curves)} seeds)")
            ax.fill_between(x, [m - h for m, h in stats], [m + h for m, h in stats], alpha=0.2)
        ax.set_xlabel("episode")
        ax.set_ylabel("average reward of the last 100 episodes")
        ax.set_title("snake, default hyperparameters: mean over seeds and its 95% interval")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--side", choices=("host", "host-body", "compiled", "reference"), required=True)
    r.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    r.add_argument("--episodes", type=int, default=2500)
    r.add_argument("--jobs", type=int, default=2, help="reference seeds run at once (one thread each)")
    r.add_argument("--reference-python")
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("dir")
    p.add_argument("--plot")
    args = parser.parse_args(argv)
    (run if args.command == "run" else report)(args)


if __name__ == "__main__":
    main()
