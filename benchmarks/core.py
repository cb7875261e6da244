"""Core benchmark: DQN update time (MLP and CNN) and prioritized replay cost by capacity.

    python benchmarks/core.py [--quick] [--reference-python PATH] [--json FILE]

With the reference installed (``--reference-python`` or $JAXDQN_REFERENCE_PYTHON pointing
at a Python with torch and retro-gamer), its update for the same network and batch is
timed in the same run, interleaved with ours, and the ratio printed.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from common import median_ms, print_table, reference_python, run_reference, versions  # noqa: E402

from jaxdqn.core.learner import init_learner, make_optimizer, make_train_step  # noqa: E402
from jaxdqn.core.networks import make_network  # noqa: E402
from jaxdqn.core.replay import make_prioritized_buffer  # noqa: E402
from jaxdqn.core.rows import board_rows, stored_rows_width  # noqa: E402
from jaxdqn.core.types import NetworkSpec, Observation, RowsObservation, Transition, example_transition  # noqa: E402

SNAKE = NetworkSpec(board_height=16, board_width=32, num_channels=6, num_extras=2,
                    hidden_sizes=(128, 64), num_actions=5)


OCCUPIED = 12  # non-empty cells per board: row lists of 16, as snake's at the end-to-end point


def snake_like_transitions(rng, n, spec=SNAKE):
    """Boards with ``OCCUPIED`` random non-empty cells, stored as the trainer stores them."""
    def obs():
        board = np.zeros((n, spec.board_height * spec.board_width), np.uint8)
        for row in board:
            k = min(OCCUPIED, row.size)
            row[rng.choice(row.size, k, replace=False)] = rng.integers(1, spec.num_channels + 1, k)
        board = board.reshape(n, spec.board_height, spec.board_width)
        extras = rng.normal(size=(n, spec.num_extras)).astype(np.float32)
        width = stored_rows_width(spec, OCCUPIED)
        return RowsObservation(board_rows(board, spec, width), extras) if width else Observation(board, extras)
    return Transition(obs(), rng.integers(0, spec.num_actions, n).astype(np.int32),
                      rng.normal(size=n).astype(np.float32), obs(), rng.random(n) < 0.02)


def stored_example(rng, spec=SNAKE) -> Transition:
    """One transition in the form the trainer stores for ``spec``, to size a buffer."""
    return example_transition(jax.tree.map(lambda x: x[0], snake_like_transitions(rng, 1, spec).obs))


def filled_buffer(buffer, spec, n, rng, chunk=10_000):
    state = buffer.init(stored_example(rng, spec))
    add = jax.jit(buffer.add)
    for start in range(0, n, chunk):
        state = add(state, snake_like_transitions(rng, min(chunk, n - start), spec))
    return state


def time_train_step(spec, capacity, repeats, fill, rng, batch_size=64):
    """Median ms of one fused step: sample ``batch_size`` + update + write priorities."""
    net = make_network(spec)
    opt = make_optimizer(1e-4)
    buffer = make_prioritized_buffer(capacity)
    step = make_train_step(net, opt, buffer, batch_size=batch_size, gamma=0.99, target_update_period=125)
    box = {"learner": init_learner(jax.random.PRNGKey(0), net, opt),
           "buffer": filled_buffer(buffer, spec, fill, rng), "i": 0, "pending": None}

    def once():
        box["i"] += 1
        box["learner"], box["buffer"], m, box["pending"] = step(
            box["learner"], box["buffer"], jax.random.PRNGKey(box["i"]), None, box["pending"])
        m.loss.block_until_ready()
    return median_ms(once, repeats)


def time_prioritized(capacity, repeats, rng):
    """Median ms of priority update + prioritized sample(64) on a full buffer of ``capacity``.

    In the order the training step runs them: last step's priorities are written, then
    the next batch is sampled (write-before-read lets XLA update the trees in place).
    """
    spec = SNAKE._replace(board_height=1, board_width=1)  # payload size does not matter here
    buffer = make_prioritized_buffer(capacity)
    state = filled_buffer(buffer, spec, capacity, rng, chunk=min(capacity, 100_000))

    @functools.partial(jax.jit, donate_argnums=0)
    def update_and_sample(state, indices, abs_td, key):
        state = buffer.update(state, indices, abs_td)
        _, idx, w = buffer.sample(state, key, 64)
        return state, idx, w * 3.0
    box = {"state": state, "i": 0, "idx": jnp.arange(64), "td": jnp.ones(64)}

    def once():
        box["i"] += 1
        box["state"], box["idx"], box["td"] = update_and_sample(box["state"], box["idx"], box["td"],
                                                                 jax.random.PRNGKey(box["i"]))
        jax.block_until_ready(box["state"].sums)
    return median_ms(once, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller buffers")
    parser.add_argument("--reference-python", help="Python with torch + retro-gamer installed")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    repeats = 50 if args.quick else 300
    fill = 5_000 if args.quick else 50_000
    ref_py = reference_python(args.reference_python)
    results = {"versions": versions(), "update": {}, "prioritized": {}}
    rows = []
    for name, spec in (("MLP [128, 64]", SNAKE), ("CNN + [128, 64]", SNAKE._replace(spatial=True))):
        ours = time_train_step(spec, 50_000, repeats if not spec.spatial else max(10, repeats // 10), fill, rng)
        ref = run_reference(ref_py, "update", spatial=spec.spatial, fill=fill,
                            repeats=repeats if not spec.spatial else max(10, repeats // 10))
        ref_ms = ref["update_ms_median"] if ref else None
        results["update"][name] = {"jaxdqn_ms": ours, "reference_ms": ref_ms}
        rows.append((f"update {name}", f"{ours:.3f}", f"{ref_ms:.3f}" if ref_ms else "not installed",
                     f"{ours / ref_ms:.2f}x" if ref_ms else "-"))
    for capacity in ((10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)):
        ms = time_prioritized(capacity, repeats, rng)
        results["prioritized"][capacity] = ms
        rows.append((f"prioritized update+sample @{capacity:,}", f"{ms:.3f}", "", ""))
    caps = results["prioritized"]
    ratio = caps[max(caps)] / caps[min(caps)]
    print(f"device: {results['versions']['device']}  jax {results['versions']['jax']}  "
          f"({results['versions']['machine']}); buffer fill {fill:,}, batch 64")
    print_table(rows, ("what", "jaxdqn ms (median)", "reference ms", "jaxdqn/reference"))
    print(f"prioritized cost at {max(caps):,} / at {min(caps):,}: {ratio:.2f}x")
    results["prioritized_ratio_largest_to_smallest"] = ratio
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
