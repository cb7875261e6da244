"""``jaxdqn eval RUN_DIR``: greedy play over many episodes, with statistics kept in the run directory."""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from jaxdqn.cli import AGENT_HELP, RUN_DIR_HELP, RUNS_GAME_CODE
from jaxdqn.errors import JaxdqnError

EVALUATIONS_NAME = "evaluations.jsonl"


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="greedy evaluation over several episodes",
                       description="Play K episodes with the greedy policy (no exploration) and report mean, std, "
                                   "min and max of the episode reward and length. Each evaluation is also added "
                                   f"to RUN_DIR/{EVALUATIONS_NAME}, which jaxdqn plot shows. " + RUNS_GAME_CODE)
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--episodes", "-k", type=int, default=20, metavar="K", help="episodes to play [20]")
    p.add_argument("--checkpoint", metavar="NAME", help="e.g. ep_0100 (default: the newest)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed the game's random numbers for a repeatable result [not seeded]")
    p.add_argument("--max-turns", type=int, default=None, metavar="N",
                   help="cut episodes off here [max_turns_per_episode]")
    p.add_argument("--agent", type=int, default=0, metavar="N", help=AGENT_HELP)
    p.add_argument("--json", action="store_true", help="print JSON for scripts, with every episode's result")
    p.add_argument("--on", choices=("retro", "jax"), default="retro",
                   help="for a run of a game written in JAX: play its retro counterpart (one game at a time, "
                        "as in the terminal) or the JAX game itself (all episodes at once) [retro]")
    p.add_argument("--record", metavar="DIR",
                   help="also write each episode as an asciinema cast, DIR/ep_0001.cast, ... (the retro game)")
    p.set_defaults(func=run)


def summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def evaluate(run_dir, episodes: int, checkpoint: str | None = None, seed: int | None = None,
             max_turns: int | None = None, on: str = "retro", record: str | Path | None = None,
             agent: int = 0) -> dict:
    """Greedy play (no exploration) for ``episodes`` episodes: per-episode results and their statistics.
    ``on = "jax"`` plays a JAX game itself, every episode at once, instead of its retro counterpart;
    ``record``: a folder for each episode's asciinema cast (the retro game only); ``agent``: which agent of a
    run of several (``num_seeds``, a ``[sweep]``)."""
    import random

    from jaxdqn.games.episodes import run_episode
    from jaxdqn.policy import TrainedPolicy

    if episodes <= 0:
        raise JaxdqnError(f"--episodes {episodes}: give a positive number of episodes")
    policy = TrainedPolicy(run_dir, checkpoint, agent)
    limit = max_turns or policy.config.training["max_turns_per_episode"]
    if on == "jax" and record is not None:
        raise JaxdqnError("--record draws the retro game one turn at a time: leave --on jax out to record")
    if record is not None and any(Path(record).glob("ep_*.cast")):
        raise JaxdqnError(f"--record {record}: that folder already holds recordings, which are never overwritten; "
                          "give a new folder")
    if on == "jax":
        if policy.config.jax_game is None:
            raise JaxdqnError(f"--on jax needs a game written in JAX; {run_dir} trains "
                              f"{policy.config.game['module']}, a retro game: leave --on out")
        outcomes = evaluate_jax(policy, episodes, seed or 0, limit)
    else:
        if seed is not None:
            random.seed(seed)
        env = policy.env()
        if record is None:
            outcomes = [run_episode(env, policy.greedy, limit) for _ in range(episodes)]
        else:
            outcomes = _recorded(env, policy, episodes, limit, Path(record))
    rewards = [o.reward for o in outcomes]
    finals = [o.final_value for o in outcomes]
    result = {"run_dir": str(run_dir), "checkpoint": policy.checkpoint, "episode": policy.episode,
              "episodes": episodes, "seed": seed, "on": on, "agent": agent, "reward_key": policy.metadata.reward,
              "episode_reward": summary(rewards), "episode_length": summary([o.turns for o in outcomes]),
              "per_episode": [{"reward": o.reward, "length": o.turns, "game_over": o.game_over,
                               **({} if o.final_value == o.reward else {"final_reward_value": o.final_value})}
                              for o in outcomes]}
    if finals != rewards:  # the reward value did not start at zero: its final value says something more
        result["final_reward_value"] = summary(finals)
    return result


def evaluate_jax(policy, episodes: int, seed: int, max_turns: int) -> list:
    """Every episode at once on the JAX game (the reward value starts at 0, so its final value is the sum)."""
    import jax
    import numpy as np

    from jaxdqn.core.evaluation import make_evaluate
    from jaxdqn.games.episodes import EpisodeOutcome

    game = policy.config.jax_game
    evaluate = jax.jit(make_evaluate(game, policy.parts.network, 0, episodes, max_turns))
    rewards, lengths = (np.asarray(x) for x in evaluate(policy.params, jax.random.PRNGKey(seed)))
    return [EpisodeOutcome(float(r), int(n), float(r), bool(n < max_turns)) for r, n in zip(rewards, lengths)]


def _recorded(env, policy, episodes: int, limit: int, folder: Path) -> list:
    from jaxdqn.games.recording import CastRecorder, record_episode
    outcomes = []
    for i in range(1, episodes + 1):
        recorder = CastRecorder(f"{policy.config.game['module']}, {policy.checkpoint}, greedy episode {i}",
                                framerate=12)
        outcomes.append(record_episode(env, policy.greedy, recorder, limit, f"{policy.checkpoint} episode {i}"))
        recorder.write(folder / f"ep_{i:04d}.cast")
    return outcomes


def record(run_dir: Path, result: dict) -> Path | None:
    """Add the evaluation's summary to RUN_DIR/evaluations.jsonl, and to the TensorBoard events with
    ``[training] tensorboard = true`` (None when the directory is read-only)."""
    path = Path(run_dir) / EVALUATIONS_NAME
    if not os.access(run_dir, os.W_OK):
        return None
    entry = {k: v for k, v in result.items() if k not in ("per_episode", "run_dir")}
    entry["time"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    from jaxdqn.config import load_config
    if load_config(run_dir, import_game=False).training["tensorboard"]:
        from jaxdqn.run.tensorboard import record_evaluation
        record_evaluation(run_dir, result)
    return path


def read_evaluations(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / EVALUATIONS_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def run(args) -> int:
    result = evaluate(args.run_dir, args.episodes, args.checkpoint, args.seed, args.max_turns, args.on, args.record,
                      args.agent)
    record(Path(args.run_dir), result)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    seeded = f", seed {args.seed}" if args.seed is not None else ""
    print(f"{result['checkpoint']}: {args.episodes} greedy episodes{seeded}" +
          (" on the JAX game" if args.on == "jax" else ""))
    rows = [("episode reward", "episode_reward"), ("episode length", "episode_length")]
    if "final_reward_value" in result:
        rows.insert(1, (f"final {result['reward_key']}", "final_reward_value"))
    for label, key in rows:
        s = result[key]
        print(f"  {label:<19} mean {s['mean']:9.2f}  std {s['std']:8.2f}  min {s['min']:9.2f}  max {s['max']:9.2f}")
    if args.record:
        print(f"Recorded {args.episodes} episode(s) in {args.record} (asciinema play {args.record}/ep_0001.cast)")
    return 0
