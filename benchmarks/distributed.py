"""Aggregate game steps/s of the compiled snake loop against the number of devices, in both modes:
8 agents split over the devices (seeds), and one agent's 256 games split over them (data parallel).

    python benchmarks/distributed.py [--devices 1 2 4] [--quick] [--json FILE]

Each device count runs in a process of its own. On a CPU the devices are forced host devices
(``--xla_force_host_platform_device_count``): they share the same cores, so the table measures what
the sharding costs, not a speed-up. On a machine with several accelerators, the counts are real devices.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(devices: int, quick: bool) -> dict:
    import jax
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from jaxdqn.core import Settings, game_spec
    from jaxdqn.core.networks import make_network
    from jaxdqn.core.sharding import make_distributed_runner, make_layout
    from jaxdqn.jaxgames import snake

    network = make_network(game_spec(snake.JAX_GAME, (128, 64)))
    seeds = Settings(rows_width=32, num_envs=16, train_every=16, batch_size=128, learning_rate=5e-4,
                     learning_rate_decay=1.0, epsilon_decay=0.999, target_update_freq=2000)
    one_agent = Settings(rows_width=32, num_envs=256, train_every=256, batch_size=256, learning_rate=5e-4,
                         learning_rate_decay=1.0, epsilon_decay=0.999, target_update_freq=2000)
    out = {"devices": devices, "platform": jax.devices()[0].platform, "device_kind": jax.devices()[0].device_kind}
    for mode, settings, layout, agents in (("seeds", seeds, make_layout(devices, 1, 8), 8),
                                           ("data_parallel", one_agent, make_layout(devices, devices, 1), 1)):
        runner = make_distributed_runner(snake.JAX_GAME, network, settings, 1 << 14, layout)
        state, clock = runner.init(np.int32(1)), runner.init_clock()
        state, clock, _ = runner.run_chunk(state, clock, np.int32(1 << 30), np.int32(20))  # compile, fill a little
        jax.block_until_ready(state)
        iterations = 50 if quick else 200
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            state, clock, ran = runner.run_chunk(state, clock, np.int32(1 << 30), np.int32(iterations))
            jax.block_until_ready(state)
            times.append(time.perf_counter() - t0)
        per_iteration = settings.steps_per_iteration * settings.num_envs * agents
        out[mode] = {"steps_per_s": int(ran) * per_iteration / sorted(times)[1],
                     "updates_per_s": int(ran) * settings.updates_per_iteration * agents / sorted(times)[1]}
    return out


def measure(device_counts, quick: bool) -> list[dict]:
    results = []
    for devices in device_counts:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if env.get("JAX_PLATFORMS", "cpu") == "cpu" and not _accelerators():
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
        done = subprocess.run([sys.executable, __file__, "--child", str(devices)] + (["--quick"] if quick else []),
                              env=env, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def _accelerators() -> bool:
    """Whether JAX sees a GPU or TPU here (asked in a throwaway process, so this one stays unconfigured)."""
    probe = "import jax; print(jax.devices()[0].platform)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.strip() not in ("", "cpu")


def rows(results: list[dict]) -> list[tuple[str, float, str]]:
    base = results[0]
    out = []
    for r in results:
        for mode, what in (("seeds", "8 agents x 16 games"), ("data_parallel", "1 agent, 256 games")):
            s = r[mode]["steps_per_s"]
            out.append((f"{r['devices']} {r['platform']} device(s), {what}: steps/s (x vs {base['devices']})", s,
                        f"  ({s / base[mode]['steps_per_s']:.2f}x)"))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.quick)))
        return None
    results = measure(args.devices, args.quick)
    for what, value, unit in rows(results):
        print(f"{what:70s} {value:>12,.0f}{unit}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
