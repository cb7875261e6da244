"""Throughput of jaxdqn against the PyTorch reference, side by side in one run.

    python benchmarks/throughput.py [--quick] [--json FILE] [--reference-python PATH] [--num-envs 1 4 16]
                                    [--no-compiled]

Measures raw and encoded game steps/s, action selection, update times (MLP, CNN), prioritized
replay cost by capacity, bytes per transition, and end-to-end training steps/s on snake with
the default hyperparameters once the 50k prioritized buffer is full (timed over 10,000 steps;
jaxdqn, then the reference, then jaxdqn again), and on nav (its CNN, default hyperparameters,
400 steps once updates run; the same order). The reference columns need a Python with torch
and retro-gamer (``--reference-python`` or $JAXDQN_REFERENCE_PYTHON); otherwise they say
"not installed". ``--quick`` shrinks buffers and timings to check the script, not to quote.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import core  # noqa: E402
import encoding  # noqa: E402
import spatial  # noqa: E402
from common import median_ms, print_table, reference_python, run_reference, versions  # noqa: E402
from training_rate import training_rate  # noqa: E402

from jaxdqn.core.replay import bytes_per_transition, make_prioritized_buffer  # noqa: E402
from jaxdqn.core.types import Observation  # noqa: E402
from jaxdqn.games.metadata import GameMetadata  # noqa: E402
from jaxdqn.trainers import DQNTrainer  # noqa: E402


def snake_trainer(run_dir, **hp) -> DQNTrainer:
    from retro.examples.snake import create_game
    meta = GameMetadata(encoding.SNAKE_ACTIONS, "reward", character_set=encoding.SNAKE_CHARS)
    return DQNTrainer(create_game, meta, run_dir, {"observe_state": ["apple_dx", "apple_dy"]},
                      training_episodes=10**9, seed=0, **hp)


def end_to_end(memory_capacity: int, timed_steps: int, num_envs: int = 1) -> dict:
    """jaxdqn's training loop, default hyperparameters, timed once the buffer is full."""
    with tempfile.TemporaryDirectory() as run_dir:
        extra = {"num_envs": num_envs} if num_envs != 1 else {}
        with snake_trainer(run_dir, memory_capacity=memory_capacity, **extra) as trainer:
            return training_rate(trainer, lambda: trainer.pipeline.buffer_items, memory_capacity, timed_steps)


def action_selection_ms(repeats: int) -> float:
    """One greedy action for one snake observation, parameters ready (host -> device -> int)."""
    with tempfile.TemporaryDirectory() as run_dir, snake_trainer(run_dir) as trainer:
        obs = trainer.env.reset()
        trainer.schedules.epsilon = 0.0
        batch = trainer.pipeline.store(Observation(obs.board[None], obs.extras[None]))  # as replay stores it
        return median_ms(lambda: trainer.actors.select_actions(batch), repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--reference-python")
    parser.add_argument("--num-envs", type=int, nargs="*", default=[1])
    parser.add_argument("--no-compiled", action="store_true", help="leave out the compiled loop's rows")
    args = parser.parse_args(argv)
    quick = args.quick
    capacity = 5_000 if quick else 50_000
    timed = 2_000 if quick else 10_000
    ref_py = reference_python(args.reference_python)
    rng = np.random.default_rng(0)
    results: dict = {"versions": versions(), "quick": quick, "capacity": capacity, "timed_steps": timed}
    rows = []

    def row(what, ours, ref=None, unit="", higher_is_better=True):
        if ref is None:
            ratio = "-" if ref_py is None else ""
            ref_text = "not installed" if ref_py is None else ""
        else:
            ratio = f"{(ours / ref if higher_is_better else ref / ours):.1f}x"
            ref_text = f"{ref:,.3f}" if ref < 100 else f"{ref:,.0f}"
        rows.append((what, (f"{ours:,.3f}" if ours < 100 else f"{ours:,.0f}") + unit, ref_text, ratio))

    enc = encoding.measure(5_000 if quick else 20_000, 3 if quick else 5)
    ref_env = run_reference(ref_py, "env", steps=5_000 if quick else 20_000)
    results["env"] = {**enc, "reference_env_steps_per_s": ref_env and ref_env["env_steps_per_s"]}
    row("game steps/s, raw game.step()", enc["raw_steps_per_s"])
    row("game steps/s with encoding", enc["jaxdqn_env_steps_per_s"], ref_env and ref_env["env_steps_per_s"])

    act = action_selection_ms(200 if quick else 1000)
    results["action_ms"] = act
    row("greedy action selection, ms", act, higher_is_better=False)

    fill = 5_000 if quick else 50_000
    for name, spec, reps in (("MLP [128, 64]", core.SNAKE, 50 if quick else 300),
                             ("CNN + [128, 64]", core.SNAKE._replace(spatial=True), 10 if quick else 30)):
        ours = core.time_train_step(spec, 50_000, reps, fill, rng)
        ref = run_reference(ref_py, "update", spatial=spec.spatial, fill=fill, repeats=reps)
        results.setdefault("update_ms", {})[name] = {"jaxdqn": ours, "reference": ref and ref["update_ms_median"]}
        row(f"update ms, {name} (sample+learn+priorities)", ours, ref and ref["update_ms_median"], higher_is_better=False)

    for cap in ((10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)):
        ms = core.time_prioritized(cap, 50 if quick else 300, rng)
        results.setdefault("prioritized_ms", {})[cap] = ms
        row(f"prioritized update+sample ms @{cap:,}", ms)

    buf = make_prioritized_buffer(50_000)  # observations stored as the trainer stores snake's (row lists)
    state = jax.jit(buf.init)(core.stored_example(rng))
    ours_bytes = bytes_per_transition(state)
    ref_bytes = run_reference(ref_py, "bytes")
    results["bytes_per_transition"] = {"jaxdqn": ours_bytes, "reference": ref_bytes and ref_bytes["bytes_per_transition"]}
    row("replay bytes per transition", ours_bytes, ref_bytes and ref_bytes["bytes_per_transition"],
        higher_is_better=False)

    e2e = [end_to_end(capacity, timed)]
    ref_e2e = run_reference(ref_py, "e2e", memory_capacity=capacity, timed_steps=timed)
    e2e.append(end_to_end(capacity, timed))
    ours = statistics.median(r["steps_per_s"] for r in e2e)
    results["end_to_end"] = {"jaxdqn_runs": e2e, "jaxdqn_steps_per_s": ours, "reference": ref_e2e}
    row(f"end-to-end steps/s, snake defaults, {capacity // 1000}k buffer full (num_envs=1)", ours,
        ref_e2e and ref_e2e["steps_per_s"])

    nav_steps = 200 if quick else 400
    nav = [spatial.end_to_end("nav", nav_steps)]
    ref_nav = run_reference(ref_py, "e2e_nav", timed_steps=nav_steps)
    nav.append(spatial.end_to_end("nav", nav_steps))
    ours_nav = statistics.median(r["steps_per_s"] for r in nav)
    results["end_to_end_nav"] = {"jaxdqn_runs": nav, "jaxdqn_steps_per_s": ours_nav, "reference": ref_nav}
    row("end-to-end steps/s, nav defaults (CNN), once updates run", ours_nav, ref_nav and ref_nav["steps_per_s"])

    update_ms = results["update_ms"]["MLP [128, 64]"]["jaxdqn"]
    env_ms = 1e3 / enc["jaxdqn_env_steps_per_s"]
    eps = e2e[0]["epsilon"]
    implied = 1e3 / (env_ms + (1 - eps) * act + update_ms / 4)
    results["implied_steps_per_s"] = implied
    results["loop_efficiency"] = ours / implied

    for n in args.num_envs:
        if n == 1:
            continue
        r = end_to_end(capacity, timed, num_envs=n)
        results.setdefault("num_envs", {})[n] = r
        row(f"end-to-end steps/s, num_envs={n}", r["steps_per_s"])

    if not args.no_compiled:
        import compiled
        results["compiled"] = compiled.measure(quick)
        ref_rate = ref_e2e and ref_e2e["steps_per_s"]
        for what, value, unit in compiled.rows(results["compiled"]):
            if value > 1000 and unit == "":
                row(what, value, ref_rate)
            else:
                rows.append((what, (f"{value:,.3f}" if value < 100 else f"{value:,.0f}") + unit, "", ""))

    v = results["versions"]
    print(f"\n{v['machine']}, {v['device']} ({v['backend']}), jax {v['jax']}, python {v['python']}"
          + (f"; reference: {ref_e2e['versions']}" if ref_e2e else "; reference: not installed"))
    print_table(rows, ("what", "jaxdqn", "reference", "jaxdqn advantage"))
    print(f"\nprofile of one step at epsilon {eps:.2f}: game+encode {env_ms:.3f} ms, greedy action {act:.3f} ms x "
          f"{1 - eps:.2f}, update {update_ms:.3f} ms / 4 -> implied {implied:,.0f} steps/s; "
          f"measured {ours:,.0f} ({ours / implied:.0%} of implied)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
