"""The compiled loop's figures: reference semantics against the update's own cost, throughput while
learning, agents side by side, and the time from the command to a good snake.

    python benchmarks/compiled.py [--quick] [--seeds-only] [--json FILE]

Agents side by side are measured both ways the trainer runs them: all together under ``vmap`` (its way on
a GPU) and one after another within each chunk (``one_at_a_time``, its way on a CPU), interleaved, medians
of 3 rounds. ``--seeds-only`` measures only those rows.

Run alone, or from ``benchmarks/throughput.py`` (which puts these rows beside the host loop and the
reference, measured in the same run).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jaxdqn.core import Settings, game_spec, make_runner  # noqa: E402
from jaxdqn.core.networks import make_network  # noqa: E402
from jaxdqn.jaxgames import snake  # noqa: E402

REFERENCE = Settings(rows_width=32)  # num_envs 1, batch 64, prioritized 50k, one update per 4 steps
THROUGHPUT = Settings(rows_width=32, num_envs=256, train_every=256, batch_size=256, learning_rate=5e-4,
                      learning_rate_decay=1.0, epsilon_decay=0.999, target_update_freq=2000)
SEEDS = Settings(rows_width=32, num_envs=16, train_every=16, batch_size=128, learning_rate=5e-4,
                 learning_rate_decay=1.0, epsilon_decay=0.999, target_update_freq=2000)


def _runner(settings: Settings, hidden_sizes=(128, 64)):
    return make_runner(snake.JAX_GAME, make_network(game_spec(snake.JAX_GAME, hidden_sizes)), settings, 1 << 17)


def _agents(runner, seeds: int):
    """``seeds`` agents stacked on a leading axis as the trainer keeps them (one agent without it)."""
    init = jax.vmap(runner.init) if seeds > 1 else lambda keys: runner.init(keys[0])
    return jax.jit(init)(jax.random.split(jax.random.PRNGKey(1), seeds))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def steps_per_second(settings: Settings, seeds: int = 1, warm_iterations: int = 200, iterations: int = 300,
                     fill: bool = False, hidden_sizes=(128, 64), seconds: float | None = None,
                     one_at_a_time: bool = False) -> dict:
    """Game steps/s of all agents together once warm (with ``fill``, once replay is full). With ``seconds``,
    ``iterations`` is chosen to take about that long (from a timed probe of a tenth of the warm-up).
    ``one_at_a_time``: several agents run one after another in each chunk (``Runner.run_chunk``)."""
    runner = _runner(settings, hidden_sizes)
    agents = _agents(runner, seeds)
    clock = runner.init_clock()
    chunk = jax.jit(functools.partial(runner.run_chunk, one_at_a_time=one_at_a_time))
    per_iteration = settings.steps_per_iteration * settings.num_envs
    if fill:
        warm_iterations = max(warm_iterations, settings.memory_capacity // per_iteration + 1)
    t0 = time.perf_counter()  # the first call compiles: not in the timing
    agents, clock, _ = jax.block_until_ready(chunk(agents, clock, 1 << 30, warm_iterations))
    compile_and_warm_s = time.perf_counter() - t0
    if seconds is not None:
        probe = max(1, warm_iterations // 10)
        per = _timed(lambda: chunk(agents, clock, 1 << 30, probe)) / probe
        iterations = int(min(max(seconds / per, 10), 1_000_000))
    out = {}
    elapsed = _timed(lambda: out.setdefault("r", chunk(agents, clock, 1 << 30, iterations)))
    ran = int(out["r"][2])
    return {"steps_per_s": ran * per_iteration * seeds / elapsed, "updates_per_s": ran * settings.updates_per_iteration
            * seeds / elapsed, "ms_per_iteration": elapsed / ran * 1e3, "iterations": ran,
            "compile_and_warm_s": compile_and_warm_s, "runner": runner, "agents": out["r"][0]}


def update_floor_ms(measured: dict, count: int = 1000) -> float:
    """ms per update of the same agent, replay and network, with no game played in between."""
    runner, agents = measured["runner"], measured["agents"]
    agent = agents if agents.episodes.ndim == 0 else jax.tree.map(lambda x: x[0], agents)
    updates = jax.jit(runner.updates)
    jax.block_until_ready(updates(agent, jax.random.PRNGKey(0), 10))  # compile (the count is not static)
    return _timed(lambda: updates(agent, jax.random.PRNGKey(1), count)) / count * 1e3


def time_to_good_snake(quick: bool) -> dict:
    """``python -m jaxdqn.train`` on a copy of runs/snake-jax, compile included (no compilation cache), then
    ``jaxdqn eval -k 100`` on the retro snake."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "snake-jax"
        run.mkdir()
        text = (ROOT / "runs" / "snake-jax" / "config.toml").read_text()
        if quick:
            text = text.replace("training_episodes = 60000", "training_episodes = 5000")
        (run / "config.toml").write_text(text)
        env = {**os.environ, "JAXDQN_COMPILATION_CACHE": "0", "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jaxdqn.train", str(run)], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        out = subprocess.run([sys.executable, "-m", "jaxdqn.cli", "eval", str(run), "-k", "100", "--seed", "0",
                              "--json"], check=True, env=env, capture_output=True, text=True).stdout
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
    return {"seconds": seconds, "greedy_retro_mean": json.loads(out)["episode_reward"]["mean"]}


def measure_seeds(quick: bool = False) -> dict:
    """Agents x 16 games, steps/s of all agents together once warm: all together (``vmap``) and, for several
    agents, one after another in each chunk; the two interleaved, medians of the rounds."""
    runner, results = _runner(SEEDS), {}
    rounds, iterations = (1, 100) if quick else (3, 300)
    for seeds in ((1, 8) if quick else (1, 8, 32)):
        agents = _agents(runner, seeds)
        ways = {"seeds": False, "seeds_apart": True} if seeds > 1 else {"seeds": False}
        chunk = {way: jax.jit(functools.partial(runner.run_chunk, one_at_a_time=apart)) for way, apart in ways.items()}
        warm = {way: chunk[way](agents, runner.init_clock(), 1 << 30, 50) for way in ways}  # compiles
        rates = {way: [] for way in ways}
        for _ in range(rounds):
            for way in ways:
                out = {}
                elapsed = _timed(lambda: out.setdefault("r", chunk[way](*warm[way][:2], 1 << 30, iterations)))
                rates[way].append(int(out["r"][2]) * SEEDS.steps_per_iteration * SEEDS.num_envs * seeds / elapsed)
        for way in ways:
            results.setdefault(way, {})[seeds] = {"steps_per_s": statistics.median(rates[way])}
    return results


def measure(quick: bool = False) -> dict:
    results = {}
    reference = steps_per_second(REFERENCE, iterations=300 if quick else 2000, fill=not quick)
    floor = update_floor_ms(reference, 200 if quick else 1000)
    results["reference_semantics"] = {"steps_per_s": reference["steps_per_s"],
                                      "ms_per_iteration": reference["ms_per_iteration"], "update_floor_ms": floor,
                                      "over_floor": reference["ms_per_iteration"] / floor - 1}
    results["throughput"] = {k: v for k, v in steps_per_second(THROUGHPUT).items() if k.endswith("_s")}
    results.update(measure_seeds(quick))
    results["time_to_good_snake"] = time_to_good_snake(quick)
    return results


def seed_rows(results: dict) -> list[tuple[str, float, str]]:
    out = []
    for seeds, s in results["seeds"].items():
        out.append((f"compiled, {seeds} agent(s) x 16 games, 1 update (batch 128) / 16 transitions, "
                    "steps/s (all agents)", s["steps_per_s"], ""))
        if seeds in results.get("seeds_apart", {}):
            apart = results["seeds_apart"][seeds]["steps_per_s"]
            out.append(("  the same, one agent after another in each chunk (the trainer on a CPU)", apart,
                        f" ({apart / s['steps_per_s']:.2f}x)"))
    return out


def rows(results: dict) -> list[tuple[str, float, str]]:
    """(what, value, unit) for the table."""
    r = results["reference_semantics"]
    out = [("compiled, reference semantics (1 game, batch 64, 50k prioritized full, 1 update / 4 steps), steps/s",
            r["steps_per_s"], ""),
           ("  ms per iteration (4 steps + 1 update) / the update alone", r["ms_per_iteration"],
            f" / {r['update_floor_ms']:.3f} ({r['over_floor']:+.0%})"),
           ("compiled, 256 games, 1 update (batch 256) / 256 transitions, steps/s", results["throughput"]["steps_per_s"],
            "")]
    out += seed_rows(results)
    t = results["time_to_good_snake"]
    out.append(("runs/snake-jax: command to last checkpoint (compile included), s", t["seconds"],
                f"; greedy on retro snake, 100 games: {t['greedy_retro_mean']:+.1f}"))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds-only", action="store_true", help="only the rows of agents side by side")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = measure_seeds(args.quick) if args.seeds_only else measure(args.quick)
    for what, value, unit in (seed_rows if args.seeds_only else rows)(results):
        print(f"{what:100s} {value:>12,.3f}{unit}" if value < 100 else f"{what:100s} {value:>12,.0f}{unit}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
