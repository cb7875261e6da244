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
