import os

import pytest

from tests.support.runs import make_run


@pytest.mark.slow
def test_clean_removes_what_training_made_and_keeps_config(tmp_path, cli):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    assert cli("train", run)[0] == 0
    assert cli("eval", run, "-k", "1")[0] == 0 and cli("plot", run)[0] == 0
    made = {"training.log", "metrics.csv", "evaluations.jsonl", "training.png"}
    assert made <= {p.name for p in run.iterdir()}
    code, _, err = cli("clean", run)  # no terminal, no --yes: refuses
    assert code != 0 and "--yes" in err and (run / "checkpoints").exists()
    code, out, _ = cli("clean", run, "--yes")
    assert code == 0 and "checkpoints/ep_0005/" in out and "training.log" in out and "training.png" in out
    assert not (run / "checkpoints").exists() and not made & {p.name for p in run.iterdir()}
    assert (run / "config.toml").exists() and not [p for p in run.iterdir() if p.name.startswith(".removing")]
    assert not (run / ".train.lock").exists()  # no trace of training left
    assert cli("clean", run, "--yes")[1].startswith("Nothing to clean")
    (run / ".train.lock").write_text("12 host 0\n")  # left by a run killed before it wrote anything
    assert cli("clean", run, "--yes")[1].startswith("Nothing to clean") and not (run / ".train.lock").exists()


def test_clean_removes_all_or_nothing(tmp_path, cli, monkeypatch):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    assert cli("train", run)[0] == 0
    before = sorted(p.name for p in run.iterdir())
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", failing_replace)
    code, _, err = cli("clean", run, "--yes")
    assert code == 2 and "nothing was removed" in err
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir()) == before and (run / "checkpoints" / "ep_0005").is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_clean_of_a_read_only_run_removes_nothing(tmp_path, cli):
    run = make_run(tmp_path, training_episodes=5, checkpoint_every=5)
    assert cli("train", run)[0] == 0
    run.chmod(0o555)
    try:
        code, _, err = cli("clean", run, "--yes")
        assert code == 2 and "Nothing was removed" in err
    finally:
        run.chmod(0o755)
    assert (run / "checkpoints").exists()
