from jaxdqn.run.log import (CHECKPOINT_LINE, IntervalStats, TrainingLog, format_duration, parse_duration, parse_log,
                            sweep_line)


def line(episode, first):
    return IntervalStats(episode, first, 1.25, 12, 0.5, 0.75, 61, 3725).line()


def test_lines_have_the_reference_format_and_parse_back(tmp_path):
    text = line(100, 1)
    assert text == ("[ep_0100] ep=0001-0100 avg_reward=+1.2 avg_steps=12 epsilon=0.500 avg_loss=0.8 "
                    "time=1m01s total=1h02m05s")
    assert CHECKPOINT_LINE.match(text)
    log = TrainingLog(tmp_path)
    assert log.is_new
    log.write("[INIT] header", text)
    [stats] = parse_log(log.path)
    assert stats.episode == 100 and stats.seconds == 61 and stats.total_seconds == 3725
    assert format_duration(59.9) == "0m59s" and parse_duration("1h00m01s") == 3601


def test_drop_after_removes_only_checkpoint_lines_past_an_episode(tmp_path):
    log = TrainingLog(tmp_path)
    log.write("[INIT] seed = 1", "", "=== Training started | now ===", line(10, 1), line(20, 11),
              "=== Resumed from ep_0020 | later ===", line(30, 21), line(40, 31))
    assert log.checkpoint_episodes() == {10, 20, 30, 40}
    assert log.drop_after(20) == [30, 40]
    text = log.path.read_text()
    assert "[INIT] seed = 1" in text and "=== Resumed from ep_0020" in text
    assert log.checkpoint_episodes() == {10, 20}
    assert log.drop_after(20) == []


def test_a_sweeps_lines_go_with_their_checkpoint_line(tmp_path):
    log = TrainingLog(tmp_path)
    lines = [line(10, 1), sweep_line(10, "gamma=0.9", 1.5, 12, 0.5),
             line(20, 11), sweep_line(20, "gamma=0.9", 2, 9, 0.4)]
    assert lines[1] == "  [ep_0010 gamma=0.9] avg_reward=+1.5 avg_steps=12 epsilon=0.500"
    log.write(*lines)
    assert [s.episode for s in parse_log(log.path)] == [10, 20]  # a sweep's lines are not checkpoint lines
    assert log.drop_after(10) == [20]
    assert log.path.read_text().splitlines() == lines[:2]


def test_bytes_that_are_not_utf8_and_a_line_cut_short_are_survived_and_kept(tmp_path):
    log = TrainingLog(tmp_path)
    log.write("[INIT] seed = 1", line(10, 1))
    with open(log.path, "ab") as f:
        f.write(b"a note in latin-1: caf\xe9\n[ep_0020] ep=0011-00")  # then a crash mid-line
    assert [s.episode for s in parse_log(log.path)] == [10]
    log.write(line(20, 11))  # starts on a line of its own
    assert [s.episode for s in parse_log(log.path)] == [10, 20]
    assert log.drop_after(10) == [20]
    assert b"caf\xe9\n[ep_0020] ep=0011-00\n" in log.path.read_bytes()  # the rest, byte for byte
