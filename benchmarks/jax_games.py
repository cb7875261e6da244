"""The games in JAX (snake, nav, beast): game steps/s with observations, for 1, 64 and 1,024 games, each
beside its retro game.

    python benchmarks/jax_games.py [--game snake nav beast] [--games 1 64 1024] [--steps N] [--rounds R]
        [--json FILE]

Each measurement is one jitted ``lax.scan`` of turns over ``jax.vmap``-ed games with random
actions, finished games restarting inside the step (``step_and_reset_games``). Every turn's
observation is produced (the board is kept drawn in the game's state); "read" adds a reader
that sums every observation's cells, as a consumer that reads whole boards would. The retro
game is measured with jaxdqn's encoder (``GameEnv.step``) in the same run; medians over
rounds. The traffic column estimates the bytes one step of all games moves (the state read
and written, the observation written) per second.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import encoding  # noqa: E402
from common import print_table, versions  # noqa: E402

from jaxdqn.games.port_check import retro_twin_env  # noqa: E402
from jaxdqn.jaxgames import beast, nav, snake  # noqa: E402
from jaxdqn.jaxgames.protocol import step_and_reset_games  # noqa: E402

GAMES = {"snake": snake, "nav": nav, "beast": beast}


def make_run(module, games: int, steps: int, read: bool):
    """A jitted function playing ``games`` games for ``steps`` turns; with ``read``, it also sums every
    observation's cells (else only the extras, which the state holds anyway)."""

    def play(key):
        keys = jax.random.split(key, games)
        states, _ = jax.vmap(module.reset)(keys)
        actions_count = len(module.ACTIONS) + 1

        def turn(carry, key):
            states, checksum = carry
            action_key, step_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (games,), 0, actions_count)
            out = step_and_reset_games(module.JAX_GAME, states, actions, jax.random.split(step_key, games))
            checksum = checksum + out.obs.extras.sum().astype(jnp.int32) + out.reward.sum().astype(jnp.int32)
            if read:
                checksum = checksum + out.obs.board.sum(dtype=jnp.int32)
            return (out.state, checksum), None

        (_, checksum), _ = jax.lax.scan(turn, (states, jnp.int32(0)), jax.random.split(key, steps))
        return checksum

    return jax.jit(play)


def state_bytes(module, games: int) -> int:
    state, obs = module.reset(jax.random.PRNGKey(0))
    per_game = sum(x.nbytes for x in jax.tree.leaves(state)) * 2 + sum(x.nbytes for x in jax.tree.leaves(obs))
    return per_game * games


def measure(module, games: int, steps: int, rounds: int, read: bool) -> dict:
    run = make_run(module, games, steps, read)
    run(jax.random.PRNGKey(0)).block_until_ready()  # compile
    rates = []
    for r in range(rounds):
        t0 = time.perf_counter()
        run(jax.random.PRNGKey(r + 1)).block_until_ready()
        rates.append(games * steps / (time.perf_counter() - t0))
    rate = statistics.median(rates)
    return {"game": module.JAX_GAME.name, "games": games, "read": read, "steps_per_s": rate,
            "bytes_per_s": rate / games * state_bytes(module, games)}


def bandwidth() -> dict:
    """This machine's memory bandwidth, for scale: numpy copying 256 MB, and an XLA elementwise pass over
    64 MB (out of cache) and over 1 MB (in cache), each counted as bytes read plus bytes written."""
    import numpy as np
    a = np.ones(32 * 1024 * 1024)
    b = np.empty_like(a)
    copy = min(_timed(lambda: np.copyto(b, a)) for _ in range(5))
    big = jnp.ones((64 * 1024 * 1024,), jnp.uint8)
    inc = jax.jit(lambda x: x + 1)
    inc(big).block_until_ready()
    xla = min(_timed(lambda: inc(big).block_until_ready()) for _ in range(5))
    small = jnp.ones((1024 * 1024,), jnp.uint8)
    loop = jax.jit(lambda x: jax.lax.fori_loop(0, 200, lambda i, x: x + 1, x))
    loop(small).block_until_ready()
    cached = min(_timed(lambda: loop(small).block_until_ready()) for _ in range(3))
    return {"numpy_copy_gb_s": 2 * a.nbytes / copy / 1e9, "xla_pass_gb_s": 2 * big.nbytes / xla / 1e9,
            "xla_in_cache_gb_s": 200 * 2 * small.nbytes / cached / 1e9}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", nargs="*", choices=sorted(GAMES), default=list(GAMES))
    parser.add_argument("--games", type=int, nargs="*", default=[1, 64, 1024])
    parser.add_argument("--steps", type=int, default=2000, help="turns per measurement [2000]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-read", action="store_true", help="skip the rows that read every board")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    results = {"versions": versions(), "jax": [], "retro_with_encoding_steps_per_s": {}}
    rows = []
    for name in args.game:
        module = GAMES[name]
        env = retro_twin_env(module.JAX_GAME)
        retro = statistics.median(encoding.env_steps_per_s(env, 5_000, r) for r in range(args.rounds))
        results["retro_with_encoding_steps_per_s"][name] = retro
        rows.append((f"retro {name} + jaxdqn encoding (host, 1 game)", f"{retro:,.0f}", "1.0x", ""))
        for games in args.games:
            for read in (False,) if args.no_read else (False, True):
                r = measure(module, games, max(args.steps // max(1, games // 64), 200), args.rounds, read)
                results["jax"].append(r)
                rows.append((f"JAX {name}, {games:,} games vmapped" + (", boards read" if read else ""),
                             f"{r['steps_per_s']:,.0f}", f"{r['steps_per_s'] / retro:.1f}x",
                             f"{r['bytes_per_s'] / 1e9:.2f} GB/s"))
    results["bandwidth"] = bw = bandwidth()
    v = results["versions"]
    print(f"\n{v['machine']}, {v['device']}, jax {v['jax']}")
    print_table(rows, ("what", "game steps/s", "vs retro", "state+obs traffic"))
    print(f"memory bandwidth for scale: numpy copy {bw['numpy_copy_gb_s']:.1f} GB/s, XLA elementwise pass "
          f"{bw['xla_pass_gb_s']:.1f} GB/s (64 MB) and {bw['xla_in_cache_gb_s']:.1f} GB/s (1 MB, in cache)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
