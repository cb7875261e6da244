"""Encoding benchmark: snake steps/s raw, with jaxdqn's encoder, and with the reference's wrapper.

    python benchmarks/encoding.py [--steps N] [--rounds R] [--reference-python PATH]

"raw" is ``game.step()`` with programmatic input and no view; "HeadlessView" adds the
board grid retro-games renders for headless play (what the reference steps with);
"jaxdqn" is ``GameEnv.step`` (raw stepping plus reward and observation encoding). Rounds alternate so both see the same
machine load; medians over rounds are reported.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from common import reference_python, run_reference  # noqa: E402

from jaxdqn.games.encoding import start_game  # noqa: E402
from jaxdqn.games.env import GameEnv  # noqa: E402
from jaxdqn.games.metadata import GameMetadata  # noqa: E402
from jaxdqn.games.preprocessing import build_encoder  # noqa: E402

SNAKE_ACTIONS = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
SNAKE_CHARS = ["*", "<", ">", "@", "^", "v"]


def snake_env():
    from retro.examples.snake import create_game
    meta = GameMetadata(SNAKE_ACTIONS, "reward", character_set=SNAKE_CHARS)
    encoder, _ = build_encoder(create_game, meta, {"observe_state": ["apple_dx", "apple_dy"]})
    return create_game, GameEnv(create_game, meta.actions, meta.reward, encoder)


def raw_steps_per_s(factory, steps, seed, headless_view=False):
    rng = random.Random(seed)
    keys = SNAKE_ACTIONS + [None]
    game = start_game(factory, headless_view)
    t0 = time.perf_counter()
    for _ in range(steps):
        game.input_source.press(rng.choice(keys))
        game.step()
        if not game.playing:
            game = start_game(factory, headless_view)
    return steps / (time.perf_counter() - t0)


def env_steps_per_s(env, steps, seed):
    rng = random.Random(seed)
    env.reset()
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, done = env.step(rng.randrange(env.num_actions))
        if done:
            env.reset()
    return steps / (time.perf_counter() - t0)


def measure(steps: int, rounds: int) -> dict:
    factory, env = snake_env()
    raw, view, ours = [], [], []
    for r in range(rounds):
        random.seed(r)
        raw.append(raw_steps_per_s(factory, steps, r))
        random.seed(r)
        view.append(raw_steps_per_s(factory, steps, r, headless_view=True))
        random.seed(r)
        ours.append(env_steps_per_s(env, steps, r))
    return {"raw_steps_per_s": statistics.median(raw), "headless_view_steps_per_s": statistics.median(view),
            "jaxdqn_env_steps_per_s": statistics.median(ours)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reference-python")
    args = parser.parse_args(argv)
    result = measure(args.steps, args.rounds)
    ref = run_reference(reference_python(args.reference_python), "env", steps=args.steps)
    ratio = result["jaxdqn_env_steps_per_s"] / result["raw_steps_per_s"]
    view_ratio = result["jaxdqn_env_steps_per_s"] / result["headless_view_steps_per_s"]
    print(f"snake, {args.steps:,} random steps x {args.rounds} rounds (medians)")
    print(f"  raw game.step()            {result['raw_steps_per_s']:>9,.0f} steps/s")
    print(f"  game.step() + HeadlessView {result['headless_view_steps_per_s']:>9,.0f} steps/s")
    print(f"  jaxdqn GameEnv.step()      {result['jaxdqn_env_steps_per_s']:>9,.0f} steps/s  "
          f"({ratio:.0%} of raw, {view_ratio:.0%} of HeadlessView stepping)")
    if ref:
        print(f"  reference GameEnvironment  {ref['env_steps_per_s']:>9,.0f} steps/s  "
              f"(jaxdqn is {result['jaxdqn_env_steps_per_s'] / ref['env_steps_per_s']:.1f}x)")
    else:
        print("  reference GameEnvironment  not installed")


if __name__ == "__main__":
    main()
