"""``python -m jaxdqn.train RUN_DIR`` (also ``jaxdqn train RUN_DIR``): train, resuming where the run left off.

The ``train`` command of :mod:`jaxdqn.cli`, kept at the package's top so that ``python -m jaxdqn.train``
runs it directly.
"""
from __future__ import annotations

import sys
from pathlib import Path

from jaxdqn.cli import RUN_DIR_HELP, RUNS_GAME_CODE, Parser, reporting_errors

DESCRIPTION = ("Train a DQN agent on the game described by RUN_DIR/config.toml, resuming from the newest checkpoint "
               "that restores. Ctrl+C (or SIGTERM) ends the episode, saves a checkpoint and stops; a second "
               "Ctrl+C quits at once. " + RUNS_GAME_CODE)


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    parser.add_argument("--checkpoint", metavar="NAME",
                        help="resume from this checkpoint (e.g. ep_0100) instead of the newest; newer ones are "
                             "kept under another name, not overwritten")
    parser.add_argument("--episodes", type=int, metavar="N",
                        help="train until N episodes (sets training_episodes in config.toml)")
    parser.add_argument("--process-id", type=int, metavar="K",
                        help="this machine's number in a run on several machines ([distributed] coordinator): "
                             "0 on the coordinator's machine [$JAXDQN_PROCESS_ID, or SLURM's]")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train, resuming from the newest checkpoint", description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(func=run)


def _describe_saved(run_dir: Path):
    def describe() -> str:
        from jaxdqn.run.checkpoints import Checkpoints, checkpoint_name
        latest = Checkpoints(run_dir / "checkpoints").latest()
        if latest is None:
            return "Nothing is saved yet; the next run starts from the beginning."
        return f"The run continues from {checkpoint_name(latest)} next time."
    return describe


def run(args) -> int:
    from jaxdqn.cli.supervisor import supervise, wants_supervisor
    from jaxdqn.run.stop import StopRequests

    run_dir = Path(args.run_dir)
    if wants_supervisor(run_dir / "config.toml"):  # several machines: a lost peer is said in one line
        return supervise(_argv(args), args.process_id)
    with StopRequests(_describe_saved(run_dir)) as stop:  # from the start: a Ctrl+C during start-up is not lost
        return _train(args, run_dir, stop)


def _train(args, run_dir: Path, stop) -> int:
    import jax

    from jaxdqn.config import CONFIG_NAME, load_config
    from jaxdqn.errors import JaxdqnError
    from jaxdqn.trainers import trainer_from_config

    if args.episodes is not None and args.episodes <= 0:
        raise JaxdqnError(f"--episodes {args.episodes}: give a positive number of episodes")
    # several machines: join them before the game's module is imported (JAX games build arrays at import)
    distributed = load_config(run_dir, import_game=False).distributed
    several = distributed.get("coordinator") is not None
    if several:
        from jaxdqn.trainers.processes import join_processes
        if args.episodes is not None and args.process_id:
            raise JaxdqnError("--episodes changes config.toml: give it on process 0 only (or edit the file on every "
                              "machine)")
        join_processes(distributed, args.process_id, stop)
        several = jax.process_count() > 1
    if several:  # every process sees process 0's config.toml, --episodes included, and the same directory
        from jaxdqn.trainers.processes import agree_on_run
        if args.episodes is not None and jax.process_index() == 0:
            _set_episodes(run_dir / CONFIG_NAME, args.episodes)
        config = agree_on_run(run_dir, lambda: load_config(run_dir), distributed["timeout"])
    else:
        config = load_config(run_dir)
        if args.episodes is not None:
            _set_episodes(run_dir / CONFIG_NAME, args.episodes)
            config = load_config(run_dir)
    with trainer_from_config(config, args.process_id) as trainer:
        say = trainer.say
        resumed = trainer.resume(args.checkpoint)
        for damaged in trainer.run.skipped:
            say(f"Skipped {damaged.name}: it cannot be restored ({damaged.reason}); it is kept aside, see "
                "training.log")
        if resumed:
            say(f"Resuming from {resumed}")
        if stop.requested and jax.process_count() == 1:  # several: the trainer stops them all at one checkpoint
            say("Stopped before training started; nothing new was trained.")
            return 0
        already_done = trainer.start_episode > trainer.hp["training_episodes"]
        trainer.train(stop=stop)
        if not already_done and trainer.start_episode > trainer.hp["training_episodes"]:
            say(f"Done. Checkpoints are in {trainer.checkpoints.directory}")
    return 0


def _argv(args) -> list[str]:
    """The command line of ``args`` for ``python -m jaxdqn.train``."""
    argv = [str(args.run_dir)]
    for option, value in (("--checkpoint", args.checkpoint), ("--episodes", args.episodes),
                          ("--process-id", args.process_id)):
        if value is not None:
            argv += [option, str(value)]
    return argv


def _set_episodes(path: Path, episodes: int) -> None:
    from jaxdqn.config.writing import set_value
    from jaxdqn.run.lock import RunLock

    with RunLock(path.parent).acquire():  # the config is the run's: only its writer changes it
        previous = set_value(path, "training.training_episodes", episodes)
    if previous != episodes:
        print(f"training_episodes: {previous} -> {episodes} (written to {path})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m jaxdqn.train", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    with reporting_errors() as outcome:
        outcome.code = run(args)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
