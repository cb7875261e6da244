"""Whether a game written in JAX behaves like the retro game it ports, from random play alone.

Both games are played with the same uniformly random policy: the JAX game vmapped (all episodes
in one compiled program), the retro game through retro-games itself with jaxdqn's encoder set up
as the JAX game's observation. Then, side by side:

- the distributions of episode return and length: a two-sample Kolmogorov-Smirnov test, and the
  means within a few standard errors;
- how often each board character shows, per episode (means within a few standard errors);
- the range of every observed state value (each side's range within the other's, widened by a
  tenth);
- the first observation: per character, how many cells show it and their mean column and row.

A port passes when nothing differs; each difference is named with the two values and the
sample sizes. Thresholds are strict (KS p < 0.001, 4.5 standard errors), so a right port fails
by chance rarely, and samples of a few hundred episodes show rule-sized differences.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

KS_P = 1e-3
STANDARD_ERRORS = 4.5


@dataclass
class Sample:
    """What random play showed of one side: per episode, and of the first observations."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    shares: list[np.ndarray] = field(default_factory=list)  # per episode: share of cells showing each character
    extras_low: np.ndarray | None = None
    extras_high: np.ndarray | None = None
    first: list[np.ndarray] = field(default_factory=list)  # per episode: per character, count, mean x, mean y

    def add_extras(self, extras: np.ndarray) -> None:
        if extras.size == 0:
            return
        low, high = extras.min(0), extras.max(0)
        self.extras_low = low if self.extras_low is None else np.minimum(self.extras_low, low)
        self.extras_high = high if self.extras_high is None else np.maximum(self.extras_high, high)


@dataclass
class Verdict:
    passed: bool
    lines: list[str]  # every comparison, one line each
    differences: list[str]  # the failing ones


def character_shares(boards: np.ndarray, characters: int) -> np.ndarray:
    """The share of cells showing each character (codes 1..characters) over a stack of boards."""
    counts = np.bincount(boards.reshape(-1), minlength=characters + 2)[1:characters + 1]
    return counts / max(1, boards.size)


def first_look(board: np.ndarray, characters: int) -> np.ndarray:
    """Per character: how many cells show it, and their mean column and row (-1 when none)."""
    out = []
    for code in range(1, characters + 1):
        ys, xs = np.nonzero(board == code)
        out += [len(xs), xs.mean() if len(xs) else -1.0, ys.mean() if len(ys) else -1.0]
    return np.asarray(out, np.float64)


def play_jax(game, episodes: int, max_turns: int, seed: int) -> Sample:
    """``episodes`` random-policy episodes of a JAX game, all at once; an episode is cut at ``max_turns``."""
    import jax
    import jax.numpy as jnp

    actions = len(game.metadata["actions"]) + 1
    characters = len(game.metadata["character_set"])

    def episode(key):
        reset_key, play_key = jax.random.split(key)
        state, obs = game.reset(reset_key)

        def turn(carry, key):
            state, obs, over = carry
            action_key, step_key = jax.random.split(key)
            action = jax.random.randint(action_key, (), 0, actions)
            new_state, new_obs, reward, done = game.step(state, action, step_key)
            keep = lambda new, old: jnp.where(over, old, new)  # noqa: E731 - a finished episode stands still
            state, next_obs = jax.tree.map(keep, new_state, state), jax.tree.map(keep, new_obs, obs)
            counts = jnp.bincount(next_obs.board.reshape(-1), length=characters + 2)[1:characters + 1]
            return (state, next_obs, over | done), (jnp.where(over, 0.0, reward), ~over, counts * ~over,
                                                   next_obs.extras, over)
        _, (rewards, live, counts, extras, was_over) = jax.lax.scan(turn, (state, obs, jnp.bool_(False)),
                                                                     jax.random.split(play_key, max_turns))
        return obs, rewards.sum(), live.sum(), counts.sum(0), extras, was_over

    run = jax.jit(jax.vmap(episode))
    sample = Sample()
    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)
    for start in range(0, episodes, 256):
        first, returns, lengths, counts, extras, was_over = jax.device_get(run(keys[start:start + 256]))
        width, height = game.metadata["board_size"]
        for i in range(len(returns)):
            sample.returns.append(float(returns[i]))
            sample.lengths.append(int(lengths[i]))
            sample.shares.append(counts[i] / max(1, int(lengths[i]) * width * height))
            sample.first.append(first_look(np.asarray(first.board[i]), characters))
            sample.add_extras(np.asarray(extras[i])[~np.asarray(was_over[i])])
    return sample


def retro_twin_env(game):
    """A :class:`GameEnv` of the retro game ``game`` ports, with jaxdqn's encoder set up as ``game``'s
    observation (its actions, reward, character set and preprocessing)."""
    from jaxdqn.games.env import GameEnv
    from jaxdqn.games.metadata import GameMetadata, game_factory
    from jaxdqn.games.preprocessing import build_encoder

    factory = game_factory(game.retro_module)
    meta = game.metadata
    metadata = GameMetadata(meta["actions"], meta["reward"], character_set=meta["character_set"])
    encoder, _ = build_encoder(factory, metadata, dict(game.preprocessing))
    return GameEnv(factory, metadata.actions, metadata.reward, encoder)


def play_retro(game, episodes: int, max_turns: int, seed: int) -> Sample:
    """``episodes`` random-policy episodes of the retro game ``game`` ports, through retro-games."""
    env = retro_twin_env(game)
    meta = game.metadata
    characters = len(meta["character_set"])
    rng = random.Random(seed)
    state = random.getstate()
    random.seed(seed)  # retro games draw from the global generator
    try:
        sample = Sample()
        for _ in range(episodes):
            obs = env.reset()
            sample.first.append(first_look(obs.board, characters))
            total, boards, extras = 0.0, [], []
            for turn in range(max_turns):
                obs, reward, done = env.step(rng.randrange(env.num_actions))
                total += reward
                boards.append(obs.board)
                extras.append(obs.extras)
                if done:
                    break
            sample.returns.append(total)
            sample.lengths.append(turn + 1)
            sample.shares.append(character_shares(np.stack(boards), characters))
            sample.add_extras(np.stack(extras))
    finally:
        random.setstate(state)
    return sample


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def _means_differ(a, b) -> tuple[bool, str]:
    (ma, sa), (mb, sb) = _mean_se(a), _mean_se(b)
    se = math.hypot(sa, sb)
    if se <= 1e-9 * max(1.0, abs(ma), abs(mb)):  # constant on both sides (up to rounding)
        return not math.isclose(ma, mb, rel_tol=1e-6, abs_tol=1e-9), f"JAX {ma:.4g}, retro {mb:.4g} (no spread)"
    z = (ma - mb) / se
    return abs(z) > STANDARD_ERRORS, f"JAX {ma:.4g} ± {sa:.2g}, retro {mb:.4g} ± {sb:.2g} ({z:+.1f} s.e.)"


def compare(jax_side: Sample, retro: Sample, character_set: list[str]) -> Verdict:
    """Every comparison between the two samples, and which of them differ."""
    from scipy.stats import ks_2samp

    lines, differences = [], []

    def check(what: str, differs: bool, detail: str) -> None:
        line = f"{'DIFFERS' if differs else 'same   '}  {what}: {detail}"
        lines.append(line)
        if differs:
            differences.append(line)

    sizes = f"{len(jax_side.returns)} JAX and {len(retro.returns)} retro episodes"
    for what, a, b in (("episode return", jax_side.returns, retro.returns),
                       ("episode length", jax_side.lengths, retro.lengths)):
        p = ks_2samp(a, b).pvalue if len(set(a) | set(b)) > 1 else 1.0
        check(f"{what} distribution (KS test, {sizes})", p < KS_P, f"p = {p:.2g}")
        check(f"mean {what}", *_means_differ(a, b))
    shares_j, shares_r = np.stack(jax_side.shares), np.stack(retro.shares)
    for code, ch in enumerate(character_set):
        check(f"share of cells showing {ch!r}", *_means_differ(shares_j[:, code], shares_r[:, code]))
    if jax_side.extras_low is not None or retro.extras_low is not None:
        if jax_side.extras_low is None or retro.extras_low is None or \
                jax_side.extras_low.shape != retro.extras_low.shape:
            check("state values observed", True, "one side observes state values the other does not")
        else:
            for i in range(len(jax_side.extras_low)):
                lows = jax_side.extras_low[i], retro.extras_low[i]
                highs = jax_side.extras_high[i], retro.extras_high[i]
                slack = 0.1 * max(max(highs) - min(lows), 1e-9)
                differs = abs(lows[0] - lows[1]) > slack or abs(highs[0] - highs[1]) > slack
                check(f"range of state value {i}", differs, f"JAX [{lows[0]:.4g}, {highs[0]:.4g}], retro "
                                                              f"[{lows[1]:.4g}, {highs[1]:.4g}]")
    first_j, first_r = np.stack(jax_side.first), np.stack(retro.first)
    for code, ch in enumerate(character_set):
        for k, what in enumerate(("cells showing", "mean column of", "mean row of")):
            a, b = first_j[:, 3 * code + k], first_r[:, 3 * code + k]
            if k:  # positions: over the first boards that show the character
                a, b = a[first_j[:, 3 * code] > 0], b[first_r[:, 3 * code] > 0]
                if min(len(a), len(b)) < 10:
                    continue
            check(f"first observation: {what} {ch!r}", *_means_differ(a, b))
    return Verdict(not differences, lines, differences)


def check_port(game, episodes: int = 300, max_turns: int = 2000, seed: int = 0) -> Verdict:
    """Play ``game`` and its retro twin at random and compare them (see the module docstring)."""
    jax_side = play_jax(game, episodes, max_turns, seed)
    retro = play_retro(game, episodes, max_turns, seed)
    return compare(jax_side, retro, list(game.metadata["character_set"]))
