from jaxdqn.run.metrics import COLUMNS, EpisodeMetrics, read_metrics


def test_rows_are_written_at_flush_and_dropped_past_an_episode(tmp_path):
    metrics = EpisodeMetrics(tmp_path)
    for episode in range(1, 6):
        metrics.add(episode, reward=episode - 3.5, steps=10 * episode, epsilon=0.9, loss=0.25, steps_per_second=1e3,
                    training_seconds=episode / 2)
    assert read_metrics(metrics.path) == []  # nothing on disk before the checkpoint
    metrics.flush()
    rows = read_metrics(metrics.path)
    assert list(rows[0]) == list(COLUMNS) and [r["episode"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert float(rows[0]["reward"]) == -2.5 and rows[4]["steps"] == "50"
    metrics.add(6, 1.0, 1, 0.9, 0.0, 1.0, 3.5)
    metrics.flush()
    assert len(read_metrics(metrics.path)) == 6 and metrics.path.read_text().count("episode,") == 1
    assert metrics.drop_after(4) == 2
    assert [r["episode"] for r in read_metrics(metrics.path)] == ["1", "2", "3", "4"]


def test_only_whole_rows_up_to_the_episode_are_kept(tmp_path):
    metrics = EpisodeMetrics(tmp_path)
    for episode in range(1, 5):
        metrics.add(episode, 1.0, 5, 0.9, 0.1, 100.0, 0.5)
    metrics.flush()
    with open(metrics.path, "ab") as f:
        f.write(b"5,1,5,0.9,0.1,1\xff0.0,0.5,0\n6,1,5,0.9")  # bytes that are not UTF-8, then a row cut short
    assert metrics.drop_after(10) == 2
    assert [r["episode"] for r in read_metrics(metrics.path)] == ["1", "2", "3", "4"]
    metrics.add(5, 1.0, 5, 0.9, 0.1, 100.0, 0.5)
    metrics.flush()  # appends a whole row of its own
    assert [len(r) for r in read_metrics(metrics.path)] == [len(COLUMNS)] * 5
    assert metrics.drop_after(0) == 5 and metrics.path.read_text() == ",".join(COLUMNS) + "\n"
    assert metrics.drop_after(0) == 0


def test_rows_written_before_the_agent_column_are_kept_as_agent_0(tmp_path):
    metrics = EpisodeMetrics(tmp_path)
    metrics.path.write_text("episode,reward,steps,epsilon,loss,steps_per_second,training_seconds\n"
                            "1,2.5,10,0.9,0.1,100.0,0.5\n2,3.5,10,0.9,0.1,100.0,1.0\n")
    assert [r["agent"] for r in read_metrics(metrics.path)] == ["0", "0"]
    assert metrics.drop_after(1) == 1
    assert read_metrics(metrics.path) == [dict(zip(COLUMNS, ["1", "2.5", "10", "0.9", "0.1", "100.0", "0.5", "0",
                                                             "game", ""]))]


def test_metrics_rows_from_before_the_ended_column_still_read_and_are_upgraded(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("episode,reward,steps,epsilon,loss,steps_per_second,training_seconds,agent\n"
                    "1,2,3,0.9,0,10.0,0.100,0\n2,5,7,0.8,0.5,11.0,0.200,0\n")
    assert [r["ended"] for r in read_metrics(path)] == ["game", "game"]
    metrics = EpisodeMetrics(tmp_path)
    metrics.drop_after(2)  # what a resume does first: the file gets today's header, no row lost
    metrics.add(3, 1.0, 2, 0.7, 0.25, 12.0, 0.3, ended="stopped")
    metrics.flush()
    assert path.read_text().splitlines()[0].endswith(",agent,ended,config")
    assert [(r["episode"], r["ended"]) for r in read_metrics(path)] == [("1", "game"), ("2", "game"),
                                                                        ("3", "stopped")]


def test_rows_from_before_the_config_column_read_without_a_configuration(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("episode,reward,steps,epsilon,loss,steps_per_second,training_seconds,agent,ended\n"
                    "1,2,3,0.9,0,10.0,0.100,1,turn_limit\n")
    metrics = EpisodeMetrics(tmp_path)
    metrics.drop_after(1)
    metrics.add(2, 1.0, 2, 0.7, 0.25, 12.0, 0.3, agent=1, config="gamma=0.9 learning_rate=0.001")
    metrics.flush()
    assert [(r["agent"], r["ended"], r["config"]) for r in read_metrics(path)] == [
        ("1", "turn_limit", ""), ("1", "game", "gamma=0.9 learning_rate=0.001")]
