"""``jaxdqn plot RUN_DIR``: reward, length, loss and epsilon over training, as an image file."""
from __future__ import annotations

from pathlib import Path

from jaxdqn.cli import READS_FILES_ONLY, RUN_DIR_HELP
from jaxdqn.errors import JaxdqnError

PLOT_NAMES = ("training.png", "training.svg", "training.pdf")  # what plot writes in RUN_DIR by default
SMOOTHING = 100  # episodes in the per-episode reward's moving average


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="plot reward, steps, loss and epsilon from training.log",
                       description="Write a figure of training: each checkpoint interval's averages drawn across "
                                   "the episodes it covers, the per-episode reward (a moving average, from "
                                   "metrics.csv), and greedy evaluations from jaxdqn eval. Needs no display. "
                                   + READS_FILES_ONLY)
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("-o", "--output", metavar="FILE", help="file to write; .png, .svg or .pdf [RUN_DIR/training.png]")
    p.set_defaults(func=run)


def interval_curve(stats, field: str) -> tuple[list[float], list[float]]:
    """Each logged interval's average as a flat segment across the episodes it covers, so an interval
    cut short (a Ctrl+C after 2 episodes) is drawn 2 episodes wide instead of as a full-weight point."""
    xs, ys = [], []
    for s in stats:
        xs += [s.first_episode - 0.5, s.episode + 0.5]
        ys += [getattr(s, field)] * 2
    return xs, ys


def moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def per_agent(rows: list[dict]) -> dict[int, tuple[list[int], list[float]]]:
    """metrics.csv rows as each agent's (episodes, rewards), without the episodes a stop request cut short
    (a Ctrl+C'd episode is no sample of what the agent does)."""
    agents: dict[int, tuple[list[int], list[float]]] = {}
    for r in rows:
        episodes, rewards = agents.setdefault(int(r.get("agent") or 0), ([], []))
        if r.get("ended") == "stopped":
            continue
        episodes.append(int(r["episode"]))
        rewards.append(float(r["reward"]))
    return agents


def per_configuration(rows: list[dict]) -> dict[str, list[dict]]:
    """metrics.csv rows grouped by the sweep's configuration (its ``config`` column), in order; one group,
    named "", for a run without a sweep."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("config") or "", []).append(r)
    return groups


def plot_rewards(ax, agents: dict, color: str, name: str = "") -> None:
    """One agent's per-episode reward (a moving average), or several agents' mean with the band between the
    lowest and the highest; ``name`` (a sweep's configuration) starts the legend's labels."""
    prefix = f"{name}: " if name else ""
    if len(agents) == 1:
        [(episodes, rewards)] = agents.values()
        ax.plot(episodes, moving_average(rewards, SMOOTHING), color=color, alpha=0.8,
                label=f"{prefix}per episode, mean of {SMOOTHING}")
    elif agents:
        import numpy as np
        n = min(len(e) for e, _ in agents.values())
        curves = np.array([moving_average(r[:n], SMOOTHING) for _, r in agents.values()])
        episodes = next(iter(agents.values()))[0][:n]
        ax.plot(episodes, curves.mean(0), color=color,
                label=f"{prefix}mean of {len(agents)} agents (each a mean of {SMOOTHING} episodes)")
        ax.fill_between(episodes, curves.min(0), curves.max(0), color=color, alpha=0.25,
                        label=None if name else "lowest to highest agent")


def loss_curve(rows: list[dict]) -> tuple[list[int], list[float]]:
    """The training loss per episode at full precision (training.log rounds it), averaged over agents and
    over the last episodes; episodes without an update (loss 0) are left out, as the log's average does."""
    losses: dict[int, list[float]] = {}
    for r in rows:
        if r.get("ended") != "stopped" and float(r["loss"]) > 0:
            losses.setdefault(int(r["episode"]), []).append(float(r["loss"]))
    episodes = sorted(losses)
    return episodes, moving_average([sum(losses[e]) / len(losses[e]) for e in episodes], SMOOTHING)


def epsilon_limits(values: list[float]) -> tuple[float, float]:
    """Epsilon's axis from 0 to at least its largest value, so a value at its floor is drawn as the small
    number it is, not as a line across the middle of a panel a few thousandths high."""
    return 0.0, max(1.0, max(values, default=1.0)) * 1.05


def plot_run(run_dir: Path, output: Path) -> Path:
    from jaxdqn.cli.evaluate import read_evaluations
    from jaxdqn.run.log import LOG_NAME, parse_log
    from jaxdqn.run.metrics import METRICS_NAME, read_metrics

    log = run_dir / LOG_NAME
    if not log.exists():
        raise JaxdqnError(f"{log} does not exist; train first: jaxdqn train {run_dir}")
    stats = parse_log(log)
    if not stats:
        raise JaxdqnError(f"{log} has no checkpoint lines yet; plots need at least one finished interval.")
    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise JaxdqnError(f"cannot write {output}: use a .png, .svg or .pdf file name")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    rows = read_metrics(run_dir / METRICS_NAME)
    panels = (("reward", "avg_reward"), ("episode length (steps)", "avg_steps"), ("loss", "avg_loss"),
              ("epsilon", "epsilon"))
    for ax, (title, field) in zip(axes.flat, panels):
        if field == "avg_loss" and rows:  # metrics.csv has the loss at full precision; the log rounds it
            ax.plot(*loss_curve(rows), color="tab:blue", label=f"per episode, mean of {SMOOTHING}")
            ax.legend(fontsize="small")
        else:
            ax.plot(*interval_curve(stats, field), color="tab:blue", label="interval average")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1, 1].set_ylim(*epsilon_limits([s.epsilon for s in stats]))
    configurations = per_configuration(rows)
    if len(configurations) == 1:
        plot_rewards(axes[0, 0], per_agent(rows), "tab:orange")
    else:  # a sweep: a curve for each configuration, in its own colour
        colors = plt.get_cmap("tab10" if len(configurations) <= 10 else "viridis")
        for i, (name, group) in enumerate(configurations.items()):
            plot_rewards(axes[0, 0], per_agent(group), colors(i if len(configurations) <= 10
                                                               else i / (len(configurations) - 1)), name)
    evaluations = read_evaluations(run_dir)
    games = sorted({e.get("on", "retro") for e in evaluations})
    for game, (color, marker, shift) in zip(games, (("tab:green", "o", -0.15), ("tab:purple", "s", 0.15))):
        shown = [e for e in evaluations if e.get("on", "retro") == game]
        # side by side when both games were evaluated at one checkpoint
        offset = shift * stats[-1].episode / 50 if len(games) > 1 else 0.0
        axes[0, 0].errorbar([e["episode"] + offset for e in shown], [e["episode_reward"]["mean"] for e in shown],
                            yerr=[e["episode_reward"]["std"] for e in shown], fmt=marker, color=color, capsize=3,
                            label=f"greedy evaluation on the {'JAX' if game == 'jax' else 'retro'} game "
                                  "(mean, std)")
    axes[0, 0].legend(fontsize="small")
    for ax in axes[1]:
        ax.set_xlabel("episode")
    fig.suptitle(f"{run_dir.name}: {stats[-1].episode} episodes, {stats[-1].total_seconds / 60:.1f} min of training")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def run(args) -> int:
    run_dir = Path(args.run_dir)
    output = Path(args.output) if args.output else run_dir / PLOT_NAMES[0]
    print(f"Wrote {plot_run(run_dir, output)}")
    return 0
