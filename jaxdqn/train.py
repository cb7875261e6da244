"""``python -m jaxdqn.train RUN_DIR``: train (or resume) the run in RUN_DIR."""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from jaxdqn.errors import JaxdqnError

DEBUG_VAR = "JAXDQN_DEBUG"


def report_unexpected(exc: BaseException) -> int:
    """A one-paragraph account of an error from the user's game or the environment."""
    if os.environ.get(DEBUG_VAR):
        traceback.print_exc()
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        print(f"error: {type(exc).__name__}: {exc}{where}\n"
              f"If this comes from your game's code, fix it there; set {DEBUG_VAR}=1 for the full traceback.",
              file=sys.stderr)
    return 1


def run_training(run_dir: str) -> int:
    from jaxdqn.checkpoints import checkpoint_name
    from jaxdqn.config import load_config
    from jaxdqn.trainer import trainer_from_config

    try:
        trainer = trainer_from_config(load_config(run_dir))
        latest = trainer.checkpoints.latest()
        if latest is not None:
            print(f"Resuming from {checkpoint_name(latest)}")
            trainer.load_checkpoint(checkpoint_name(latest))
        already_done = trainer.start_episode > trainer.hp["training_episodes"]
        trainer.train()
        if not already_done and trainer.start_episode > trainer.hp["training_episodes"]:
            print(f"Done. Checkpoints are in {trainer.checkpoints.directory}")
        return 0
    except JaxdqnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Stopped without saving; the run continues from its last checkpoint next time.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - anything else is reported without a traceback
        return report_unexpected(exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxdqn.train",
        description="Train a DQN agent on the game described by RUN_DIR/config.toml, resuming from the "
                    "latest checkpoint when there is one. Ctrl+C saves a checkpoint and stops.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory containing config.toml, e.g. runs/snake")
    args = parser.parse_args(argv)
    return run_training(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
