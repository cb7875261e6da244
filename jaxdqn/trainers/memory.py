"""How much memory a run will need, estimated before anything large is allocated.

A config that cannot fit (a huge replay buffer, huge hidden layers, a huge egocentric view)
is refused up front with the numbers and the settings that drive them, instead of failing
minutes later inside XLA's allocator.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxdqn.errors import JaxdqnError
from jaxdqn.run.disk import format_bytes

FLOAT_BYTES = 4
# Learner state: parameters, target parameters, two Adam moments; plus gradients and
# the update's temporaries, about two more copies.
PARAM_COPIES = 6
CONV_CHANNELS = (32, 64)  # the built-in CNN's, for its activations


class NotEnoughMemory(JaxdqnError):
    pass


@dataclass
class MemoryEstimate:
    network: int  # bytes of learner state and update temporaries
    replay: int  # bytes of the replay buffer
    activations: int  # bytes of one update's activations
    num_params: int
    bytes_per_transition: float
    games: int = 0  # bytes of a JAX game's games and episode records (the compiled loop)

    @property
    def total(self) -> int:
        return self.network + self.replay + self.activations + self.games


def estimate(params: int, spec, hp: dict, stored_obs_bytes: int) -> MemoryEstimate:
    """Bytes a run needs on its device, from the network's parameter count and shape and what
    replay stores per observation."""
    per_transition = 2 * stored_obs_bytes + 4 + 4 + 1 + (1 if hp.get("n_step", 1) > 1 else 0)  # ended, for n-step
    if hp["prioritize_experiences"]:
        per_transition += 2 * FLOAT_BYTES * 16 / 15  # sum and max trees, 16-way
    batch = hp["batch_size"]
    width = max([spec.flat_board_size + spec.num_extras, *spec.hidden_sizes])
    activations = 3 * 2 * batch * width * FLOAT_BYTES  # online and target nets, forward and backward
    if spec.spatial:
        cells = spec.board_height * spec.board_width
        activations += 3 * 2 * batch * cells * (spec.num_channels + sum(CONV_CHANNELS)) * FLOAT_BYTES
    return MemoryEstimate(PARAM_COPIES * FLOAT_BYTES * params, int(hp["memory_capacity"] * per_transition),
                          activations, params, per_transition)


def available_bytes(device) -> int | None:
    """Memory free for this run on ``device``: the accelerator's limit, or the host's available memory."""
    if getattr(device, "platform", "cpu") != "cpu":
        try:
            stats = device.memory_stats() or {}
            limit = stats.get("bytes_limit")
            if limit:
                return int(limit) - int(stats.get("bytes_in_use", 0))
        except Exception:  # noqa: BLE001 - a backend without memory statistics: no check
            return None
    host = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    host = int(line.split()[1]) * 1024
    except OSError:
        pass
    if host is None:
        try:
            host = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover
            pass
    limited = cgroup_available_bytes()
    return host if limited is None else limited if host is None else min(host, limited)


CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def cgroup_available_bytes(files=CGROUP_FILES) -> int | None:
    """What the container's memory limit leaves (a process past it is killed without a word), or None."""
    for limit_file, usage_file in files:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max", or v1's huge number: no limit
            return max(int(limit) - usage, 0)
    return None


def check_fits(params: int, spec, hp: dict, stored_obs_bytes: int, device, agents: int = 1,
               extra: list[tuple[str, int]] = ()) -> MemoryEstimate:
    """Raise :class:`NotEnoughMemory` when the run cannot fit on ``device``; else the estimate. ``params`` and
    ``hp["memory_capacity"]`` are one agent's; ``agents`` agents each hold them and every ``extra`` part
    (``(what, bytes)``: a JAX game's games, its episode records)."""
    est = estimate(params * agents, spec, dict(hp, memory_capacity=hp["memory_capacity"] * agents), stored_obs_bytes)
    est.games = agents * sum(b for _, b in extra)
    board_cells = spec.board_height * spec.board_width
    available = available_bytes(device)
    if available is None or est.total <= 0.9 * available:
        return est
    where = "the GPU" if getattr(device, "platform", "cpu") != "cpu" else "this machine"
    each = f" for each of training.num_seeds = {agents:,} agents" if agents > 1 else ""
    lines = [f"this run needs about {format_bytes(est.total)} of memory, and {where} has about "
             f"{format_bytes(available)} available:",
             f"  network: {params:,} parameters -> {format_bytes(est.network // agents)}{each} with the target "
             f"network, Adam's moments and gradients (model.hidden_sizes = {list(spec.hidden_sizes)}, input of "
             f"{spec.flat_board_size + spec.num_extras:,} values from {board_cells:,} board cells)",
             f"  replay:  training.memory_capacity = {hp['memory_capacity']:,} x "
             f"{format_bytes(est.bytes_per_transition)} per transition -> {format_bytes(est.replay // agents)}{each}",
             *(f"  {what} -> {format_bytes(b)}{each}" for what, b in extra),
             f"  one update's activations (training.batch_size = {hp['batch_size']}): "
             f"{format_bytes(estimate(params, spec, hp, stored_obs_bytes).activations)}{each}",
             "Make the largest of these smaller"
             + (" (or train fewer agents: num_seeds)" if agents > 1 else "") + ": memory_capacity, hidden_sizes, "
             + ("num_envs, checkpoint_every, " if extra else "")
             + "or the board the network sees (egocentric_radius, or a smaller board), then run the same command "
             "again."]
    raise NotEnoughMemory("\n".join(lines))


def check_run_fits(parts, rows_width: int, device, agents: int = 1, game=None,
                   retro_game_bytes: int | None = None) -> MemoryEstimate:
    """:func:`check_fits` for a run assembled as ``parts`` (:class:`~jaxdqn.config.assembly.RunParts`): replay keeps
    boards as row lists of ``rows_width`` (0: whole boards), and ``agents`` agents each hold a network and a
    buffer, and with a JAX ``game`` (the compiled loop) its ``num_envs`` games and a chunk's episode records;
    ``retro_game_bytes``: what one retro game of the host loop takes (:func:`retro_game_bytes`)."""
    from jaxdqn.core.rows import rows_dtype
    from jaxdqn.core.types import RowsObservation
    num_params = sum(math.prod(shape) for shape in parts.param_shapes.values())
    empty = parts.game.encoder.empty()
    stored = RowsObservation(np.zeros(rows_width, rows_dtype(parts.spec)), empty.extras) if rows_width else empty
    hp = parts.hp
    extra = []
    if game is not None:
        import jax
        import jax.numpy as jnp
        state = jax.eval_shape(game.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))[0]
        state_bytes = sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state))
        # each game's state (and a fresh one made every step), its current and next observations, statistics,
        # and what choosing its action holds for a moment
        per_game = 2 * state_bytes + 3 * observation_bytes(stored) + 16 + acting_bytes(parts.spec)
        records = hp["checkpoint_every"] + hp["num_envs"] * hp["train_every"] // math.gcd(hp["num_envs"],
                                                                                          hp["train_every"])
        extra = [(f"games:   training.num_envs = {hp['num_envs']:,} x {format_bytes(per_game)} per game",
                  hp["num_envs"] * per_game),
                 (f"episode records: training.checkpoint_every = {hp['checkpoint_every']:,} episodes a chunk "
                  f"may finish, and one step of every game", 16 * records)]
    if retro_game_bytes is not None:
        # the game, its current and next observations, and what choosing its action holds for a moment
        per_game = retro_game_bytes + 2 * observation_bytes(empty) + acting_bytes(parts.spec)
        extra = [(f"games:   training.num_envs = {hp['num_envs']:,} x {format_bytes(per_game)} per retro game, "
                  "its observations and its share of each batched action choice", hp["num_envs"] * per_game)]
    return check_fits(num_params, parts.spec, hp, observation_bytes(stored), device, agents, extra)


def acting_bytes(spec) -> int:
    """What choosing one game's action holds for a moment: the board's cells and codes, the network's
    input and layers, its Q-values."""
    return FLOAT_BYTES * (2 * spec.board_height * spec.board_width + spec.flat_board_size
                          + 2 * sum(spec.hidden_sizes) + spec.num_actions)


def retro_game_bytes(make_env, samples: int = 4) -> int:
    """Bytes one started retro game holds (its Python objects, which no shape tells): ``samples`` games
    made and reset under ``tracemalloc``, then dropped. The global random generators the games may draw
    from are restored, so the run plays what it would have played without this measurement."""
    import random
    import tracemalloc
    saved = random.getstate(), np.random.get_state()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        games = [make_env() for _ in range(samples)]
        for env in games:
            env.reset()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    return max(1, used // samples)


def observation_bytes(example) -> int:
    """Bytes of one stored observation (any pytree of arrays)."""
    return sum(int(math.prod(np.shape(x))) * np.asarray(x).dtype.itemsize for x in _leaves(example))


def _leaves(tree):
    if isinstance(tree, tuple | list):
        for item in tree:
            yield from _leaves(item)
    else:
        yield tree
