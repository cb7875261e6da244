import shutil

from jaxdqn.cli.plot import interval_curve, moving_average
from jaxdqn.run.log import IntervalStats


def test_plot_writes_an_image(trained_run, tmp_path, cli):
    assert cli("eval", trained_run, "-k", "2")[0] == 0  # evaluations are drawn too
    for name in ("curve.png", "curve.svg"):
        code, out, err = cli("plot", trained_run, "-o", tmp_path / name)
        assert code == 0, err
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "greedy evaluation" in (tmp_path / "curve.svg").read_text()
    assert "per episode, mean of 100" in (tmp_path / "curve.svg").read_text()
    code, _, err = cli("plot", trained_run, "-o", tmp_path / "curve.gif")
    assert code != 0 and ".png" in err


def test_intervals_are_drawn_as_wide_as_the_episodes_they_cover():
    stats = [IntervalStats(100, 1, 5.0, 50, 0.9, 1.0, 10, 10), IntervalStats(102, 101, 40.0, 50, 0.9, 1.0, 1, 11)]
    xs, ys = interval_curve(stats, "avg_reward")
    assert xs == [0.5, 100.5, 100.5, 102.5] and ys == [5.0, 5.0, 40.0, 40.0]
    assert moving_average([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]


def test_the_loss_comes_from_metrics_at_full_precision_and_stopped_episodes_are_left_out():
    from jaxdqn.cli.plot import loss_curve, per_agent
    rows = [{"episode": "1", "reward": "3", "loss": "0", "agent": "0", "ended": "game"},
            {"episode": "2", "reward": "4", "loss": "0.00123", "agent": "0", "ended": "turn_limit"},
            {"episode": "3", "reward": "5", "loss": "0.00321", "agent": "0", "ended": "game"},
            {"episode": "4", "reward": "1", "loss": "0.9", "agent": "0", "ended": "stopped"}]
    episodes, losses = loss_curve(rows)
    assert episodes == [2, 3] and losses == [0.00123, (0.00123 + 0.00321) / 2]  # the log would say 0.0 twice
    assert per_agent(rows) == {0: ([1, 2, 3], [3.0, 4.0, 5.0])}


def test_an_epsilon_at_its_floor_is_drawn_near_zero():
    from jaxdqn.cli.plot import epsilon_limits
    assert epsilon_limits([0.05, 0.05, 0.05]) == (0.0, 1.05)


def test_evaluations_on_each_game_have_their_own_legend_entry(trained_run, tmp_path, monkeypatch):
    import json

    import matplotlib.figure

    from jaxdqn.cli.plot import plot_run
    from jaxdqn.run.log import parse_log
    run = tmp_path / "run"  # a copy: the trained run is shared by other tests
    shutil.copytree(trained_run, run)
    at = parse_log(run / "training.log")[-1].episode
    (run / "evaluations.jsonl").write_text("".join(
        json.dumps({"episode": at, "on": on, "episode_reward": {"mean": mean, "std": 1.0}}) + "\n"
        for on, mean in (("retro", 5.0), ("jax", 6.0))))
    legends = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (
        legends.extend(t.get_text() for t in fig.axes[0].get_legend().get_texts()), save(fig, *a, **k))[1])
    plot_run(run, tmp_path / "both.png")
    assert "greedy evaluation on the retro game (mean, std)" in legends
    assert "greedy evaluation on the JAX game (mean, std)" in legends
