"""Building small run directories for the trainer and CLI tests."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TINYGAME = Path(__file__).parent / "games" / "tinygame"
REPO = Path(__file__).resolve().parents[2]

TINY_CONFIG = f"""\
# a tiny run for the tests
[game]
module = "tinygame"
path = "{TINYGAME.as_posix()}"

[metadata]
actions = ["KEY_LEFT", "KEY_RIGHT"]
reward = "points"
factory = "tinygame:build"

[preprocessing]
observe_state = ["where"]  # a tuple set after the game is created

[model]
hidden_sizes = [16]

[training]
seed = 7
training_episodes = 30
checkpoint_every = 10
batch_size = 8
memory_capacity = 200
target_update_freq = 20
learning_rate = 0.001
epsilon_decay = 0.95
"""


def make_run(tmp_path, text=TINY_CONFIG, name="run", **training):
    run = Path(tmp_path) / name
    run.mkdir(parents=True, exist_ok=True)
    for key, value in training.items():
        line = re.compile(rf"^{key} = .*$", re.M)
        if line.search(text):
            text = line.sub(f"{key} = {value}", text)
        else:
            text = text.replace("[training]\n", f"[training]\n{key} = {value}\n", 1)
    (run / "config.toml").write_text(text)
    return run


def env(**extra):
    """The environment of a command the tests start: this repository first on the path (after it, what the
    suite was started with, e.g. packages installed into a folder of their own) and the platform the suite
    runs on (the CPU unless JAX_PLATFORMS said otherwise when pytest started)."""
    path = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1", **extra}


def run_cli(*args, timeout=300, module="jaxdqn.train", **extra_env):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env(**extra_env), stdin=subprocess.DEVNULL)


def popen_cli(*args, module="jaxdqn.train", **extra_env):
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**extra_env), stdin=subprocess.DEVNULL)


def tiny_env(**pre):
    """A GameEnv for tinygame with ``pre`` as [preprocessing], and the values it measured."""
    import random

    from jaxdqn.games.env import GameEnv
    from jaxdqn.games.metadata import game_factory, load_pyproject_metadata
    from jaxdqn.games.preprocessing import build_encoder

    meta, _ = load_pyproject_metadata("tinygame", str(TINYGAME))
    factory = game_factory("tinygame", meta.factory, str(TINYGAME))
    encoder, discovered = build_encoder(factory, meta, pre, exploration_turns=50, rng=random.Random(0))
    return GameEnv(factory, meta.actions, meta.reward, encoder), discovered


PAINT = Path(__file__).parent / "games" / "paint"

PAINT_CONFIG = f"""\
# the paint test game, written in JAX
[game]
module = "paint_jax"
path = "{PAINT.as_posix()}"

[model]
hidden_sizes = [16]

[training]
seed = 3
training_episodes = 20
checkpoint_every = 10
batch_size = 8
memory_capacity = 300
target_update_freq = 20
learning_rate = 0.001
epsilon_decay = 0.95
"""


def rotated_while_read(monkeypatch, episode):
    """The trainer running on a run removes checkpoint ``episode`` (it keeps only the newest) as a reader opens it."""
    from jaxdqn.run.checkpoints import Checkpoints
    read = Checkpoints._read

    def racing(self, at, items):
        if at == episode and self.path(at).is_dir():
            shutil.rmtree(self.path(at))
        return read(self, at, items)
    monkeypatch.setattr(Checkpoints, "_read", racing)


def paint_variant_run(tmp_path, module: str, source: str, **training):
    """A run of a JAX game defined by ``source`` (a module named ``module`` beside a copy of the paint game,
    which it may import from ``paint_jax``)."""
    games = Path(tmp_path) / "games"
    if not games.exists():
        shutil.copytree(PAINT, games)
    (games / f"{module}.py").write_text(source)
    text = PAINT_CONFIG.replace('module = "paint_jax"', f'module = "{module}"').replace(PAINT.as_posix(),
                                                                                        games.as_posix())
    return make_run(tmp_path, text, **training)
