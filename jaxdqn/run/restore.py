"""Reading a checkpoint's training state back, whatever jaxdqn version wrote it.

A checkpoint's metadata records the layout of its parameters (``param_layout``) and of its
replay buffer (``replay_layout``). Older layouts are restored into templates of their own
shape and then moved into today's, so nothing a user trained is lost by an upgrade.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdqn.core import learner
from jaxdqn.core.networks.migrate import PARAM_LAYOUT, legacy_params_shapes, migrate_tree
from jaxdqn.core.replay import PrioritizedState
from jaxdqn.core.sum_tree import Tree

REPLAY_LAYOUT = 3  # bump when the saved replay's arrays change shape or meaning
READABLE_REPLAY_LAYOUTS = (2, 3)  # 2: sum trees saved as bare tuples of levels


def _untyped_trees(replay):
    """A layout-2 template: the same arrays with each sum tree as a bare tuple."""
    if isinstance(replay, PrioritizedState):
        return replay._replace(sums=replay.sums.levels, maxima=replay.maxima.levels)
    return replay


def _typed_trees(replay):
    if isinstance(replay, PrioritizedState) and not isinstance(replay.sums, Tree):
        return replay._replace(sums=Tree(tuple(replay.sums)), maxima=Tree(tuple(replay.maxima)))
    return replay


def restore_state(checkpoints, episode: int, meta: dict, spec, optimizer, state_template, replay_template=None,
                  agent: int = 0):
    """``(state, meta, replay)`` of checkpoint ``episode`` in today's layouts (``meta`` is its metadata, read
    first). ``replay_template`` is ignored unless the saved replay's layout can be read. A compiled run's
    checkpoint holds ``num_seeds`` agents; ``agent`` picks one (its replay is not read here)."""
    layout = meta.get("layout")
    if meta.get("loop") == "compiled" and (meta["num_seeds"] > 1 or layout):
        rows, row = meta["num_seeds"], agent
        if layout:  # one block per device (see jaxdqn.core.sharding): the agent's block on data shard 0
            rows = layout["agent_groups"] * layout["data"] * layout["per_device"]
            group, j = divmod(agent, layout["per_device"])
            row = group * layout["data"] * layout["per_device"] + j
        stacked = jax.tree.map(lambda x: jnp.zeros((rows,) + jnp.shape(x), jnp.asarray(x).dtype), state_template)
        state, meta, _ = checkpoints.restore(episode, stacked)
        return jax.tree.map(lambda x: x[row], state), meta, None
    if meta.get("loop") == "compiled":
        return checkpoints.restore(episode, state_template)[0], meta, None
    legacy = meta.get("param_layout") != PARAM_LAYOUT
    if legacy:
        old = legacy_params_shapes(spec)
        state_template = {"learner": learner.LearnerState(old, old, optimizer.init(old), jnp.zeros((), jnp.int32)),
                          "key": state_template["key"]}
    layout = meta.get("replay_layout")
    if layout not in READABLE_REPLAY_LAYOUTS:
        replay_template = None
    elif layout == 2 and replay_template is not None:
        replay_template = _untyped_trees(replay_template)
    state, meta, replay = checkpoints.restore(episode, state_template, replay_template)
    if legacy:
        state = migrate_tree(state, spec)
    return state, meta, _typed_trees(replay) if replay is not None else None


REPLAY_KEYS = ("memory_capacity", "prioritize_experiences", "n_step")  # what a saved replay buffer's arrays follow
N_STEP_KEYS = ("num_envs",)  # with n-step returns, also which stored transitions follow which


def replay_keys(hp: dict) -> tuple[str, ...]:
    return REPLAY_KEYS + (N_STEP_KEYS if hp.get("n_step", 1) > 1 else ())


def _saved_with(saved_hp: dict) -> dict:
    """A checkpoint's hyperparameters, with what checkpoints from before a key existed were made with."""
    return {"n_step": 1, **saved_hp}  # before n_step, replay was one-step


def replay_fits(saved_hp: dict, hp: dict) -> bool:
    """Whether a replay buffer saved with hyperparameters ``saved_hp`` has the arrays ``hp`` makes (and, for
    n-step returns, the order they read)."""
    saved = _saved_with(saved_hp)
    return all(saved.get(k, hp[k]) == hp[k] for k in replay_keys(hp))


def replay_not_restored(saved: bool, saved_hp: dict, hp: dict) -> str:
    """The ``[RESUME]`` note for a run that saves its replay buffer but resumes with an empty one."""
    def toml(value):
        return str(value).lower() if isinstance(value, bool) else str(value)

    saved_hp = _saved_with(saved_hp)
    changed = [f"{k} = {toml(saved_hp[k])} (now {toml(hp[k])})" for k in replay_keys(hp)
               if k in saved_hp and saved_hp[k] != hp[k]]
    if not saved:
        why = "has no replay buffer"
    elif changed:
        why = "holds a replay buffer made with " + " and ".join(changed)
    else:
        why = "holds its replay buffer in an older layout"
    return f"[RESUME] this checkpoint {why}; starting with an empty one"
