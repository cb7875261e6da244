"""jaxdqn's research API against rejax's DQN on the same JAX game, side by side in one run.

    pip install -e ".[peers]"     # rejax 0.1.3 (and gymnax), for this benchmark only
    python benchmarks/peers.py [--settings many one] [--rounds 2] [--steps-many 1000000] [--steps-one 40000]
                               [--json FILE]

The game is jaxdqn's JAX snake (``jaxdqn.jaxgames.snake``, the retro snake's twin), given to rejax
as a gymnax-style environment (its observation: the one-hot board, flattened, and the two extras;
rejax 0.1.3 wants the 5-value ``step``). Two settings:

- ``many``: 256 games, one update of 256 per 256 transitions;
- ``one``: one update of 64 per 4 transitions (jaxdqn: 1 game, ``train_every = 4``; rejax updates
  once per step of all its games, so it plays 4 games).

For each: jaxdqn's ``make_train`` with its defaults (``Settings.rows_width = None``: row lists as
long as the board, read as far as each batch needs), with ``rows_width = 64`` (row lists of 64) and
with ``rows_width = 0`` (whole boards, one-hot products), and rejax's DQN; uniform replay, the same
batch, learning rate (no decay), target period (hard copies, in game steps), network ([128, 64], ReLU), and epsilon
reaching 0.05 at the game step jaxdqn's decay reaches it. Rounds interleave the four; printed:
the first call's trace (jaxdqn's includes ``make_train`` itself, which plays the game's first
board to choose the stored form), lower and compile seconds, steps/s after compiling (medians), and the
greedy score on the JAX snake (100 games, the mean return) after the same game steps. Every
setting that still differs is printed with the table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, versions  # noqa: E402

from jaxdqn.core import Settings, TrainConfig, make_train  # noqa: E402
from jaxdqn.core.acting import greedy_actions  # noqa: E402
from jaxdqn.core.networks import make_network  # noqa: E402
from jaxdqn.core.rows import to_stored  # noqa: E402
from jaxdqn.core.training import game_spec  # noqa: E402
from jaxdqn.jaxgames import snake  # noqa: E402

GAME = snake.JAX_GAME
HIDDEN = (128, 64)
MAX_TURNS = 2000
SETTINGS = {  # (jaxdqn's num_envs, train_every, batch_size; rejax's num_envs)
    "many": (256, 256, 256, 256),
    "one": (1, 4, 64, 4),
}
DIFFERENCES = [
    "loss: jaxdqn Huber (delta 1), rejax squared error / 2",
    "gradient clipping: jaxdqn by global norm 10, rejax each element to [-10, 10]",
    "epsilon: jaxdqn multiplied by epsilon_decay per episode, rejax linear in steps (both reach 0.05 at the same step)",
    "initialisation: jaxdqn PyTorch's uniform, rejax flax's lecun normal",
    "the first update: jaxdqn once replay holds a batch, rejax after fill_buffer = batch_size steps of random play",
    "setting one: rejax plays 4 games (one update per step of all its games), jaxdqn 1",
]


class _Params(NamedTuple):
    max_steps_in_episode: int


class SnakeForRejax:
    """jaxdqn's JAX snake as the gymnax-style environment rejax 0.1.3 expects (5-value ``step``,
    automatic reset), its observation the one-hot board flattened with the extras."""

    default_params = _Params(MAX_TURNS)

    def __init__(self):
        from gymnax.environments import spaces
        self.spec = game_spec(GAME, HIDDEN)
        self._actions = spaces.Discrete(self.spec.num_actions)
        size = self.spec.board_height * self.spec.board_width * self.spec.num_channels + self.spec.num_extras
        self._observations = spaces.Box(0.0, 1.0, (size,), jnp.float32)

    def flat(self, obs):
        board = jax.nn.one_hot(obs.board.astype(jnp.int32) - 1, self.spec.num_channels)
        return jnp.concatenate([board.reshape(-1), obs.extras.astype(jnp.float32)])

    def reset(self, key, params):
        state, obs = GAME.reset(key)
        return self.flat(obs), (state, jnp.int32(0))

    def step(self, key, state, action, params):
        game, turn = state
        step_key, reset_key = jax.random.split(key)
        game, obs, reward, done = GAME.step(game, action, step_key)
        turn = turn + 1
        done = done | (turn >= params.max_steps_in_episode)
        fresh, fresh_obs = GAME.reset(reset_key)
        game = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, game)
        obs = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh_obs, obs)
        return self.flat(obs), (game, jnp.where(done, 0, turn)), reward, done, {}

    def action_space(self, params):
        return self._actions

    def observation_space(self, params):
        return self._observations


def first_call(fn, *args):
    """A jitted function's first call: (result, trace s, lower s, compile s, run s, the compiled function)."""
    t0 = time.perf_counter()
    traced = jax.jit(fn).trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3, compiled


def timed(compiled, *args) -> tuple:
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, time.perf_counter() - start


def greedy_score(q_values, key, games: int = 100) -> float:
    """Mean return of ``games`` greedy games of the JAX snake, actions from ``q_values(obs batch)``."""
    def one(key):
        state, obs = GAME.reset(key)

        def turn(carry, key):
            state, obs, total, live = carry
            action = greedy_actions(q_values(jax.tree.map(lambda x: x[None], obs)))[0]
            state, obs, reward, done = GAME.step(state, action, key)
            return (state, obs, total + jnp.where(live, reward, 0.0), live & ~done), None

        carry = (state, obs, jnp.float32(0), jnp.bool_(True))
        (_, _, total, _), _ = jax.lax.scan(turn, carry, jax.random.split(key, MAX_TURNS))
        return total
    return float(jax.jit(jax.vmap(one))(jax.random.split(key, games)).mean())


def jaxdqn_settings(setting: str, rows_width: int | None) -> Settings:
    num_envs, train_every, batch, _ = SETTINGS[setting]
    return Settings(num_envs=num_envs, train_every=train_every, batch_size=batch, prioritize_experiences=False,
                    learning_rate_decay=1.0, epsilon_decay=0.99,
                    max_turns_per_episode=MAX_TURNS, rows_width=rows_width)


def run_jaxdqn(setting: str, rows_width: int | None, episodes: int, key) -> dict:
    settings = jaxdqn_settings(setting, rows_width)
    start = time.perf_counter()
    train = make_train(TrainConfig(GAME, settings, episodes=episodes, hidden_sizes=HIDDEN))
    make_s = time.perf_counter() - start
    (state, metrics), trace_s, lower_s, compile_s, first_s, compiled = first_call(train, key)
    trace_s += make_s
    (state, metrics), run_s = timed(compiled, key)
    n = int(metrics["episodes"])
    lengths = np.asarray(state.records.length[:n])
    steps = int(lengths.sum() + np.asarray(state.ep_length).sum())
    epsilons = np.asarray(state.records.epsilon[:n])
    floor = np.flatnonzero(epsilons <= settings.epsilon_min + 1e-6)
    steps_to_floor = int(lengths[:floor[0] + 1].sum()) if floor.size else steps
    network = make_network(game_spec(GAME, HIDDEN))
    params = state.learner.params
    score = greedy_score(lambda obs: network.apply(params, to_stored(obs, network.spec, rows_width)[0]),
                         jax.random.PRNGKey(99))
    return {"steps": steps, "steps_per_s": steps / run_s, "trace_s": trace_s, "lower_s": lower_s,
            "compile_s": compile_s, "first_call_s": trace_s + lower_s + compile_s + first_s, "score": score,
            "steps_to_epsilon_floor": steps_to_floor, "overflow": bool(metrics["overflow"])}


def run_rejax(setting: str, steps: int, steps_to_floor: int, key) -> dict:
    from flax import linen as nn
    from rejax import DQN
    from rejax.networks import DiscreteQNetwork, EpsilonGreedyPolicy
    _, _, batch, num_envs = SETTINGS[setting]
    env = SnakeForRejax()
    steps = max(num_envs, steps // num_envs * num_envs)
    algo = DQN.create(env=env, num_envs=num_envs, batch_size=batch, buffer_size=50_000, fill_buffer=batch,
                      learning_rate=1e-4, target_update_freq=500, polyak=0.0, gamma=0.99, ddqn=False,
                      max_grad_norm=10.0, eps_start=1.0, eps_end=0.05,
                      exploration_fraction=min(1.0, steps_to_floor / steps),
                      total_timesteps=steps, eval_freq=steps, skip_initial_evaluation=True)
    # rejax 0.1.3's create_agent fixes hidden_layer_sizes=(64, 64) (agent_kwargs cannot change it): the
    # same network as jaxdqn's is set here; scoring is done below, as jaxdqn's
    agent = EpsilonGreedyPolicy(DiscreteQNetwork)(hidden_layer_sizes=HIDDEN, action_dim=env.spec.num_actions,
                                                  activation=nn.relu)
    algo = algo.replace(agent=agent, eval_callback=lambda algo, ts, rng: jnp.float32(0))
    (ts, _), trace_s, lower_s, compile_s, first_s, compiled = first_call(algo.train, key)
    (ts, _), run_s = timed(compiled, key)
    params = ts.q_ts.params
    score = greedy_score(lambda obs: algo.agent.apply(params, jax.vmap(env.flat)(obs)), jax.random.PRNGKey(99))
    return {"steps": steps, "steps_per_s": steps / run_s, "trace_s": trace_s, "lower_s": lower_s,
            "compile_s": compile_s, "first_call_s": trace_s + lower_s + compile_s + first_s, "score": score}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--episodes-many", type=int, default=3000, help="jaxdqn's episodes in setting many")
    parser.add_argument("--episodes-one", type=int, default=300, help="jaxdqn's episodes in setting one")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = {"versions": versions(), "differences": DIFFERENCES, "settings": {}}
    rows = []
    for setting in args.settings:
        episodes = args.episodes_many if setting == "many" else args.episodes_one
        runs = {"jaxdqn defaults": [], "jaxdqn rows_width=64": [], "jaxdqn rows_width=0": [], "rejax": []}
        for r in range(args.rounds):
            key = jax.random.PRNGKey(r)
            runs["jaxdqn defaults"].append(run_jaxdqn(setting, None, episodes, key))
            runs["jaxdqn rows_width=64"].append(run_jaxdqn(setting, 64, episodes, key))
            runs["jaxdqn rows_width=0"].append(run_jaxdqn(setting, 0, episodes, key))
            base = runs["jaxdqn defaults"][-1]
            runs["rejax"].append(run_rejax(setting, base["steps"], base["steps_to_epsilon_floor"], key))
        results["settings"][setting] = runs
        rejax_rate = statistics.median(r["steps_per_s"] for r in runs["rejax"])
        for name, got in runs.items():
            rate = statistics.median(r["steps_per_s"] for r in got)
            rows.append((setting, name, f"{rate:,.0f}", f"{rate / rejax_rate:.2f}x",
                         " / ".join(f"{statistics.median(r[k] for r in got):.1f}" for k in ("trace_s", "lower_s",
                                                                                          "compile_s")),
                         ", ".join(f"{r['score']:+.1f}" for r in got),
                         f"{statistics.median(r['steps'] for r in got):,.0f}"))
    v = results["versions"]
    print(f"\n{v['machine']}, jax {v['jax']}, python {v['python']}; rounds: {args.rounds} (medians)")
    print_table(rows, ("setting", "trainer", "steps/s", "vs rejax", "first call: trace / lower / compile s",
                       "greedy score per round", "game steps"))
    print("\nSettings that still differ:\n" + "\n".join(f"- {d}" for d in DIFFERENCES))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
