"""Timings of the PyTorch reference trainer (retro-gamer), run in the environment that has it.

Called by the jaxdqn benchmarks as ``REF_PYTHON benchmarks/reference_probe.py WHAT ...``;
prints one JSON object. Kept free of jaxdqn imports so it runs where only torch and
retro-gamer are installed.
"""
import json
import statistics
import sys
import tempfile
import time

from training_rate import training_rate


def _trainer(memory_capacity=50_000, spatial=False, **hp):
    from retro.examples.snake import create_game
    from retro_gamer.metadata import GameMetadata
    from retro_gamer.trainer import DQNTrainer

    metadata = GameMetadata(actions=["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], reward="reward",
                            character_set=["*", "<", ">", "@", "^", "v"], spatial=spatial)
    run_dir = tempfile.mkdtemp()
    return DQNTrainer(create_game, metadata, run_dir,
                      preprocessing={"observe_state": ["apple_dx", "apple_dy"], "spatial": spatial},
                      memory_capacity=memory_capacity, **hp)


def _fill(trainer, n):
    import numpy as np
    state = trainer.env.reset()
    for i in range(n):
        action = i % trainer.metadata.n_actions
        key = trainer._idx_to_key(action)
        nxt, reward, done = trainer.env.step(key)
        trainer.memory.push(state, action, reward, nxt, done)
        state = trainer.env.reset() if done else nxt
    return np


def update_time(repeats=200, spatial=False, fill=50_000):
    return _timed_updates(_trainer(spatial=spatial), repeats, fill)


def _timed_updates(trainer, repeats, fill):
    """Median ms of the reference's own update once ``fill`` transitions of play are in its memory."""
    _fill(trainer, fill)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trainer._train_step()
        times.append(time.perf_counter() - t0)
    return {"update_ms_median": statistics.median(times) * 1e3, "buffer_items": fill}


def env_steps(steps=20_000):
    """The reference's GameEnvironment (HeadlessView + its encoder) on snake, random keys."""
    import random
    trainer = _trainer()
    env = trainer.env
    env.reset()
    keys = trainer.metadata.actions + [None]
    rng = random.Random(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, done = env.step(rng.choice(keys))
        if done:
            env.reset()
    return {"env_steps_per_s": steps / (time.perf_counter() - t0)}


def end_to_end(memory_capacity=50_000, timed_steps=10_000):
    """Steps/s of the reference's own training loop once its replay buffer is full."""
    trainer = _trainer(memory_capacity=memory_capacity, training_episodes=10**9)
    return training_rate(trainer, lambda: len(trainer.memory), memory_capacity, timed_steps)


SPATIAL_GAMES = {  # the retro games' own metadata (their pyproject.toml)
    "nav": {"actions": ["KEY_LEFT", "KEY_RIGHT"], "reward": "score", "character_set": ["^", "O"]},
    "beast": {"actions": ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], "reward": "score",
              "character_set": ["*", "H", "\u2588"]},
}


def _spatial_trainer(game):
    """The reference's trainer on retro.examples.GAME with its CNN and default hyperparameters."""
    import importlib

    from retro_gamer.metadata import GameMetadata
    from retro_gamer.trainer import DQNTrainer

    create_game = importlib.import_module(f"retro.examples.{game}").create_game
    metadata = GameMetadata(**SPATIAL_GAMES[game], spatial=True)
    return DQNTrainer(create_game, metadata, tempfile.mkdtemp(), preprocessing={"spatial": True},
                      training_episodes=10**9)


def end_to_end_nav(timed_steps=400):
    """Steps/s of the reference's own loop on nav (its CNN, default hyperparameters)."""
    return end_to_end_spatial("nav", timed_steps)


def end_to_end_spatial(game="nav", timed_steps=400):
    """Steps/s of the reference's own loop on a spatial game (its CNN, default hyperparameters), timed
    from the first episode that ends after updates began, for at least ``timed_steps`` steps."""
    trainer = _spatial_trainer(game)
    return training_rate(trainer, lambda: len(trainer.memory), trainer.hp["batch_size"], timed_steps)


def update_time_spatial(game="nav", repeats=30, fill=5_000):
    """The reference's update on a spatial game's CNN (batch 64, prioritized), buffer filled by play."""
    return _timed_updates(_spatial_trainer(game), repeats, fill)


def learning_curve(seed=0, episodes=2500):
    """The reference training snake from ``seed`` (defaults, observe_state apple_dx/dy, character set
    discovered by its exploration turns): every 100 episodes' average reward, as its training.log has them.
    One thread, so two seeds can run side by side on two cores."""
    import random

    import numpy as np
    import torch
    from retro.examples.snake import create_game
    from retro_gamer.metadata import GameMetadata
    from retro_gamer.trainer import DQNTrainer

    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    metadata = GameMetadata(actions=["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"], reward="reward")
    trainer = DQNTrainer(create_game, metadata, tempfile.mkdtemp(),
                         preprocessing={"observe_state": ["apple_dx", "apple_dy"]}, training_episodes=episodes)
    curve = []
    t0 = time.perf_counter()
    trainer.train(on_checkpoint=lambda stats: curve.append(stats["avg_reward"]))
    return {"curve": curve, "character_set": metadata.character_set, "seconds": time.perf_counter() - t0}


def bytes_per_transition():
    trainer = _trainer()
    state = trainer.env.reset()
    return {"bytes_per_transition": 2 * state.nbytes + 8 + 8 + 1}


def greedy(run_dir, checkpoint=None, episodes=100, max_turns=2000, seed=0):
    """The reference's trained policy (its own TrainedPolicy, as its play command uses) playing the retro
    game greedily for ``episodes`` games, each cut at ``max_turns``: every game's score change."""
    import importlib
    import random
    import tomllib
    from pathlib import Path

    from retro.input import ProgrammaticInput
    from retro.views.headless import HeadlessView
    from retro_gamer.model_agent import TrainedPolicy

    config = tomllib.loads((Path(run_dir) / "config.toml").read_text())
    factory = importlib.import_module(config["game"]["module"]).create_game
    reward = config["metadata"]["reward"]
    policy = TrainedPolicy(Path(run_dir), checkpoint=checkpoint)
    random.seed(seed)
    scores, lengths = [], []
    for _ in range(episodes):
        game = factory()
        game.input_source, game.view = ProgrammaticInput(), HeadlessView()
        game.start()
        start, turns = game.state[reward], 0
        while game.playing and turns < max_turns:
            game.input_source.press(policy.get_action(game))
            game.step()
            turns += 1
        scores.append(game.state[reward] - start)
        lengths.append(turns)
    return {"mean": statistics.fmean(scores), "scores": scores, "lengths": lengths}


if __name__ == "__main__":
    what = sys.argv[1]
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = {"update": update_time, "bytes": bytes_per_transition, "env": env_steps, "e2e": end_to_end,
              "e2e_nav": end_to_end_nav, "e2e_spatial": end_to_end_spatial,
              "update_spatial": update_time_spatial, "curve": learning_curve, "greedy": greedy}[what](**kwargs)
    import retro_gamer  # noqa: F401
    import torch
    result["versions"] = {"torch": torch.__version__}
    print(json.dumps(result))
