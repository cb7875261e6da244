"""The shipped runs of the JAX twins train, evaluate on both games and play, from their own config.toml."""
import json
from pathlib import Path

import pytest

from tests.support.runs import make_run, run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("game", ["nav", "beast"])
def test_the_shipped_run_trains_evaluates_and_plays(tmp_path, game):
    text = (REPO / "runs" / f"{game}-jax" / "config.toml").read_text()
    run = make_run(tmp_path, text, name=f"{game}-jax", num_envs=4, train_every=4, batch_size=32,
                   training_episodes=12, checkpoint_every=6)
    trained = run_cli(run)
    assert trained.returncode == 0, trained.stderr
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ep_0006", "ep_0012"]
    for on in ("retro", "jax") if game == "nav" else ("retro",):  # beast: the same commands, a longer compile
        result = run_cli("eval", run, "--episodes", "2", "--seed", "0", "--json", "--on", on, "--max-turns", "300",
                         module="jaxdqn.cli")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["episode"] == 12
    if game == "nav":
        played = run_cli("play", run, "--headless", "--turns", "50", module="jaxdqn.cli")
        assert played.returncode == 0, played.stderr
