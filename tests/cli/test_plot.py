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
