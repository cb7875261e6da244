"""A hyperparameter sweep in one compiled program against one agent alone, side by side.

    python benchmarks/sweep.py [--setting one|many] [--learning-rates 8] [--seeds 2] [--episodes 300]
                               [--at-once auto|all|K] [--hidden 128 64] [--board-kernel trained] [--rounds 2]
                               [--check] [--json FILE]

The game is the JAX snake, with benchmarks/peers.py's settings (``one``: 1 game, one update of 64 per 4
transitions; ``many``: 256 games, one update of 256 per 256). The sweep is ``--learning-rates`` learning
rates (log-spaced from 3e-5 to 3e-3) x ``--seeds`` seeds, all trained by one program: ``make_sweep(train,
at_once)(keys, grid(settings, learning_rate=...))``. ``--at-once all`` vmaps all agents together;
``--at-once K`` trains them K at a time, group after group (``jax.lax.map`` over groups of K, vmapped
within; 1: one after another); ``auto``, the default, is make_sweep's (1 on a CPU). Beside it, one agent
alone (the same settings, the middle learning rate) in a program of its own. Printed: the first call's
compile seconds, and game steps per second after compiling, all agents together (medians of the rounds, the
two interleaved), and the share of the room the sweep's loops made that its agents used: agents trained
together go on until the one with most steps is done, the others idling. ``--check`` also trains each of the
sweep's agents alone, a call each to the program of the one alone, compares their episodes with the sweep's
(equal up to float rounding, which over long runs can flip an action) and prints the steps per second of
those calls together: the sweep's agents one after another, each in a program of its own.

Ways to ask what the first layer costs: ``--hidden`` narrows the network (the first layer's width
first); ``--board-kernel no-adam`` still makes the one-hot layer's board kernel's gradient (and clips
by the global norm with it) but gives it no Adam step, and ``--board-kernel frozen`` makes no gradient
for it at all, in the sweep and alone alike. Neither is a way to train: they bound what an Adam that
updates only the rows a batch reads could gain, with the dense gradient kept or not.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, versions  # noqa: E402
from peers import GAME, HIDDEN, SETTINGS, first_call, jaxdqn_settings, timed  # noqa: E402

import jaxdqn.core.learner  # noqa: E402
from jaxdqn.core import TrainConfig, grid, make_sweep, make_train  # noqa: E402
from jaxdqn.core.training import agents_at_once  # noqa: E402


def untrained_board_kernel(how: str):
    """Make every optimizer from here on give the one-hot layer's board kernel no Adam step: ``"no-adam"``
    still clips by the global norm of all gradients, the board kernel's with them; ``"frozen"`` leaves its
    gradient out altogether (XLA then drops it). A bound for the benchmark, not a way to train."""
    import optax
    clipped_adam, clip = jaxdqn.core.learner.make_optimizer, jaxdqn.core.learner.clip_by_global_norm

    def labels(params):
        return jax.tree_util.tree_map_with_path(
            lambda path, _: "untrained" if "board_kernel" in jax.tree_util.keystr(path) else "trained", params)

    def make_optimizer(learning_rate, max_grad_norm=jaxdqn.core.learner.MAX_GRAD_NORM):
        if how == "frozen":
            return optax.multi_transform({"trained": clipped_adam(learning_rate, max_grad_norm),
                                          "untrained": optax.set_to_zero()}, labels)
        adam = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)
        return optax.chain(clip(max_grad_norm),
                           optax.multi_transform({"trained": adam, "untrained": optax.set_to_zero()}, labels))
    jaxdqn.core.learner.make_optimizer = make_optimizer


def loop_used(each: np.ndarray, at_once: int | None) -> float:
    """The share of the room the sweep's loops made that its agents played: agents trained together (in
    order, ``at_once`` at a time, the last group what is left) run until the one with most steps is done."""
    group = each.size if at_once is None else at_once
    room = sum(len(g) * g.max() for g in np.split(each, range(group, each.size, group)))
    return float(each.sum() / room)


def played_each(state) -> np.ndarray:
    """Game steps each agent in ``state`` played (finished episodes and the games still running), flat."""
    n = np.asarray(state.episodes).reshape(-1)
    lengths = np.asarray(state.records.length)
    lengths = lengths.reshape(n.size, lengths.shape[-1])
    running = np.asarray(state.ep_length).reshape(n.size, -1).sum(axis=1)
    return np.array([lengths[i, :c].sum() for i, c in enumerate(n)]) + running


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", default="one", choices=list(SETTINGS))
    parser.add_argument("--learning-rates", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=300, help="episodes each agent trains")
    parser.add_argument("--rows-width", type=int, default=None,
                        help="Settings.rows_width (default: make_train's, row lists as long as the board; 0: boards)")
    parser.add_argument("--at-once", default="auto",
                        help="agents trained together: all (jax.vmap), K (jax.lax.map over groups of K), or "
                             "auto (make_sweep's default: 1 on a CPU, else all)")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN), help="hidden layer sizes")
    parser.add_argument("--board-kernel", default="trained", choices=["trained", "no-adam", "frozen"],
                        help="the one-hot layer's board kernel: trained, or a bound (see above)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="train each agent alone too and compare")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.at_once not in ("auto", "all") and not (args.at_once.isdigit() and int(args.at_once) > 0):
        parser.error(f"--at-once: {args.at_once!r} is neither 'auto', 'all' nor a positive number of agents")
    at_once = args.at_once if args.at_once in ("auto", "all") else int(args.at_once)
    size = agents_at_once(at_once)  # as make_sweep groups the agents
    group = None if size == "all" else size

    if args.board_kernel != "trained":
        untrained_board_kernel(args.board_kernel)
    settings = jaxdqn_settings(args.setting, args.rows_width)
    train = make_train(TrainConfig(GAME, settings, episodes=args.episodes, hidden_sizes=tuple(args.hidden)))
    rates = list(np.geomspace(3e-5, 3e-3, args.learning_rates))
    hp = grid(settings, learning_rate=rates)
    keys = jax.random.split(jax.random.PRNGKey(0), args.seeds)
    sweep = make_sweep(train, at_once)  # [learning rates, seeds]
    one_hp = grid(settings, learning_rate=[rates[len(rates) // 2]])
    alone = lambda key, hp: train(key, jax.tree.map(lambda x: x[0], hp))  # noqa: E731

    runs = {"sweep": [], "alone": []}
    compiled = {}
    for r in range(args.rounds):
        for name, fn, fn_args in (("sweep", sweep, (keys, hp)), ("alone", alone, (keys[0], one_hp))):
            if name not in compiled:
                (state, metrics), _, _, compile_s, _, compiled[name] = first_call(fn, *fn_args)
                runs[name + "_compile_s"] = compile_s
            (state, metrics), seconds = timed(compiled[name], *fn_args)
            each = played_each(state)
            steps = int(each.sum())
            busy = loop_used(each, group if name == "sweep" else None)
            runs[name].append({"steps": steps, "busy": busy, "seconds": seconds,
                               "steps_per_s": steps / seconds,
                               "agents": int(np.asarray(state.episodes).size),
                               "mean_reward_last_50": float(np.asarray(metrics["episode_reward"])[..., -50:].mean())})
            if name == "sweep":
                sweep_metrics = metrics

    result = {"versions": versions(), "setting": args.setting, "episodes": args.episodes, "learning_rates": rates,
              "seeds": args.seeds, "at_once": args.at_once, "hidden": args.hidden, "board_kernel": args.board_kernel,
              "runs": runs}
    if args.check:  # each agent in the program "alone" is, compiled already: a call each, timed
        differ, steps, seconds = [], 0, 0.0
        for i, rate in enumerate(rates):
            for j, key in enumerate(keys):
                (state, m), took = timed(compiled["alone"], key, jax.tree.map(lambda x: x[i:i + 1], hp))
                steps, seconds = steps + int(played_each(state).sum()), seconds + took
                together = np.asarray(sweep_metrics["episode_reward"][i, j])
                if not np.array_equal(np.asarray(m["episode_reward"]), together):
                    differ.append((float(rate), j))
        result["check"] = {"agents": len(rates) * len(keys), "differing": differ, "steps": steps,
                           "seconds": seconds, "steps_per_s": steps / seconds}

    rate = {name: statistics.median(r["steps_per_s"] for r in runs[name]) for name in ("sweep", "alone")}
    rows = [(name, runs[name][0]["agents"], f"{statistics.median(r['steps'] for r in runs[name]):,.0f}",
             f"{rate[name]:,.0f}", f"{rate[name] / rate['alone']:.2f}x", f"{runs[name + '_compile_s']:.1f}")
            for name in ("sweep", "alone")]
    v = result["versions"]
    print(f"\n{v['machine']}, jax {v['jax']}, python {v['python']}; setting {args.setting}, {args.episodes} episodes "
          f"per agent, agents at once: {args.at_once}, hidden {tuple(args.hidden)}, board kernel {args.board_kernel}, "
          f"rounds: {args.rounds} (medians)")
    print_table(rows, ("program", "agents", "game steps", "steps/s (all agents)", "vs alone", "compile s"))
    busy = statistics.median(r["busy"] for r in runs["sweep"])
    print(f"the sweep's agents played {busy:.0%} of the steps its loops made room for (agents trained together "
          "go on until the last one's episodes are done, the finished ones idling); "
          f"counting those room steps too, {rate['sweep'] / busy:,.0f} steps/s "
          f"({rate['sweep'] / busy / rate['alone']:.2f}x alone)")
    print("final 50 episodes' mean reward per learning rate (mean of seeds): " + ", ".join(
        f"{lr:.1e}: {np.asarray(sweep_metrics['episode_reward'][i])[:, -50:].mean():+.1f}"
        for i, lr in enumerate(rates)))
    if args.check:
        c = result["check"]
        print(f"each agent alone against the sweep: {c['agents'] - len(c['differing'])} of {c['agents']} equal"
              + (f"; differing: {c['differing']}" if c["differing"] else ""))
        print(f"the {c['agents']} agents alone, one call each: {c['steps']:,} game steps in {c['seconds']:.1f} s, "
              f"{c['steps_per_s']:,.0f} steps/s; the sweep {rate['sweep'] / c['steps_per_s']:.2f}x that")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
