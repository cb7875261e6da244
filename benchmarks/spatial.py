"""Spatial games (their CNNs) against the PyTorch reference: oneDNN's convolutions, XLA's, the reference.

    python benchmarks/spatial.py [--games nav beast] [--rounds 2] [--timed-steps 400] [--quick]
                                 [--reference-python PATH] [--json FILE]

For each game (retro.examples.nav, retro.examples.beast, default hyperparameters, their CNN):
the update (batch 64: sample + learn + priorities, median of 30) and end-to-end training steps/s
(timed from the first episode that ends after updates began, for at least ``--timed-steps``
steps, as the reference probe times its own loop). jaxdqn runs twice per round, in fresh
processes, once with oneDNN's convolutions and once with XLA's (``JAXDQN_CONVOLUTION``), the
reference once; rounds interleave the three, and the table gives medians over rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, reference_python, run_reference, versions  # noqa: E402
from reference_probe import SPATIAL_GAMES  # noqa: E402
from training_rate import training_rate  # noqa: E402

BACKENDS = ("onednn", "xla")


def _metadata(game: str):
    from jaxdqn.games.metadata import GameMetadata
    meta = SPATIAL_GAMES[game]
    return GameMetadata(meta["actions"], meta["reward"], character_set=meta["character_set"], spatial=True)


def end_to_end(game: str, timed_steps: int) -> dict:
    """jaxdqn's host loop on ``retro.examples.GAME`` (its CNN, default hyperparameters), timed as the
    reference probe times its own: from the first episode that ends after updates began."""
    import importlib

    from jaxdqn.trainers import DQNTrainer
    create_game = importlib.import_module(f"retro.examples.{game}").create_game
    with tempfile.TemporaryDirectory() as run_dir:
        with DQNTrainer(create_game, _metadata(game), run_dir, {}, training_episodes=10**9, seed=0) as trainer:
            return training_rate(trainer, lambda: trainer.pipeline.buffer_items, trainer.hp["batch_size"],
                                 timed_steps)


def update_ms(game: str, repeats: int = 30, fill: int = 5_000) -> float:
    """Median ms of the fused update on the game's CNN (batch 64), the buffer filled with random boards."""
    import importlib

    import core
    import numpy as np

    from jaxdqn.core.training import game_spec
    twin = importlib.import_module(f"jaxdqn.jaxgames.{game}").JAX_GAME  # the retro game's shapes and actions
    spec = game_spec(twin, (128, 64), spatial=True)
    return core.time_train_step(spec, 50_000, repeats, fill, np.random.default_rng(0))


def measure_ours(game: str, backend: str, what: str, timed_steps: int, repeats: int) -> dict:
    """One measurement in a fresh process, whose convolutions are ``backend``'s."""
    command = [sys.executable, __file__, "--ours", what, "--games", game, "--timed-steps", str(timed_steps),
               "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "JAXDQN_CONVOLUTION": backend})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", nargs="+", default=["nav", "beast"], choices=sorted(SPATIAL_GAMES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timed-steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=30, help="updates timed per measurement")
    parser.add_argument("--quick", action="store_true", help="one round, few steps: checks the script")
    parser.add_argument("--reference-python")
    parser.add_argument("--json")
    parser.add_argument("--ours", choices=["update", "e2e"], help=argparse.SUPPRESS)  # one measurement (internal)
    args = parser.parse_args(argv)
    if args.ours:
        from jaxdqn import native
        game = args.games[0]
        value = (update_ms(game, args.repeats) if args.ours == "update"
                 else end_to_end(game, args.timed_steps)["steps_per_s"])
        print(json.dumps({"value": value, "backend": native.load().line}))
        return
    if args.quick:
        args.rounds, args.timed_steps, args.repeats = 1, 100, 5
    ref_py = reference_python(args.reference_python)
    results = {"versions": versions(), "rounds": args.rounds, "timed_steps": args.timed_steps, "games": {}}
    rows = []
    for game in args.games:
        runs = {what: {name: [] for name in (*BACKENDS, "reference")} for what in ("update", "e2e")}
        for _ in range(args.rounds):
            for what in ("update", "e2e"):
                for backend in BACKENDS:
                    runs[what][backend].append(measure_ours(game, backend, what, args.timed_steps, args.repeats))
                ref = (run_reference(ref_py, "update_spatial", game=game, repeats=args.repeats) if what == "update"
                       else run_reference(ref_py, "e2e_spatial", game=game, timed_steps=args.timed_steps))
                if ref:
                    runs[what]["reference"].append(
                        {"value": ref["update_ms_median" if what == "update" else "steps_per_s"]})
        medians = {what: {name: statistics.median(r["value"] for r in got) if got else None
                          for name, got in by.items()} for what, by in runs.items()}
        results["games"][game] = {"runs": runs, "medians": medians}
        for what, unit in (("update", "ms"), ("e2e", "steps/s")):
            m = medians[what]
            lower_is_better = what == "update"

            def ratio(a, b):
                if a is None or b is None:
                    return "-"
                return f"{(b / a if lower_is_better else a / b):.2f}x"
            label = ("update, ms (batch 64: sample + learn + priorities)" if what == "update"
                     else "end-to-end steps/s, default hyperparameters")
            rows.append((f"{game}: {label}", *(f"{m[name]:,.1f}" if m[name] is not None else "not installed"
                                              for name in (*BACKENDS, "reference")),
                         ratio(m["onednn"], m["reference"]), ratio(m["onednn"], m["xla"])))
    v = results["versions"]
    print(f"\n{v['machine']}, jax {v['jax']}, python {v['python']}; rounds: {args.rounds} (medians)")
    print_table(rows, ("what", "jaxdqn, oneDNN", "jaxdqn, XLA", "reference", "oneDNN vs reference",
                       "oneDNN vs XLA"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
