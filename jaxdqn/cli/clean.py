"""``jaxdqn clean RUN_DIR``: remove what training made (checkpoints, logs, metrics, plots), never config.toml."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from jaxdqn.cli import RUN_DIR_HELP
from jaxdqn.errors import JaxdqnError


def add_parser(sub) -> None:
    p = sub.add_parser("clean", help="remove checkpoints, training.log, metrics and plots (never config.toml)",
                       description="List what would be removed and ask first (unless --yes). Refuses while a "
                                   "trainer is running in RUN_DIR, and never imports or runs the game's code.")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.set_defaults(func=run)


def targets(run_dir: Path) -> list[Path]:
    """Everything training, eval and plot wrote into ``run_dir``."""
    from jaxdqn.cli.evaluate import EVALUATIONS_NAME
    from jaxdqn.cli.plot import PLOT_NAMES
    from jaxdqn.run.log import LOG_NAME
    from jaxdqn.run.metrics import METRICS_NAME
    from jaxdqn.run.tensorboard import TENSORBOARD_DIR

    found = [run_dir / "checkpoints"] if (run_dir / "checkpoints").exists() else []
    for name in (LOG_NAME, METRICS_NAME, EVALUATIONS_NAME, TENSORBOARD_DIR, *PLOT_NAMES):
        if (run_dir / name).exists():
            found.append(run_dir / name)
    return found


def run(args) -> int:
    from jaxdqn.run.lock import LOCK_NAME, RunLock

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise JaxdqnError(f"run directory {run_dir} does not exist")
    found = targets(run_dir)
    if not found:
        if (run_dir / LOCK_NAME).exists() and os.access(run_dir, os.W_OK | os.X_OK):
            RunLock(run_dir).acquire(doing="cleans or trains").release(remove=True)  # a run killed at start
        print(f"Nothing to clean in {run_dir}.")
        return 0
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise JaxdqnError(f"cannot remove anything in {run_dir}: this user may not write there. Nothing was removed.")
    lock = RunLock(run_dir).acquire(doing="cleans or trains")
    try:
        print(f"This removes from {run_dir} (config.toml stays):")
        for p in found:
            if p.name == "checkpoints":
                for entry in sorted(p.iterdir()):
                    print(f"  checkpoints/{entry.name}{'/' if entry.is_dir() else ''}")
            else:
                print(f"  {p.name}")
        if not args.yes:
            if not sys.stdin or not sys.stdin.isatty():
                raise JaxdqnError("not removing anything without confirmation; run again with --yes")
            if input("Remove these? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Nothing removed.")
                return 1
        # Move everything into one hidden folder first (renames: all or nothing), then delete that.
        trash = run_dir / f".removing-{os.getpid()}"
        trash.mkdir()
        try:
            for p in found:
                os.replace(p, trash / p.name)
        except OSError as exc:
            for moved in trash.iterdir():
                os.replace(moved, run_dir / moved.name)
            trash.rmdir()
            raise JaxdqnError(f"could not remove {p} ({exc.strerror}); nothing was removed.") from None
        shutil.rmtree(trash, ignore_errors=True)
        if trash.exists():
            print(f"Some files could not be deleted; they are in {trash}.", file=sys.stderr)
        lock.release(remove=True)  # a cleaned run has no trace of training left
    finally:
        lock.release()
    print(f"Cleaned. Start fresh with: jaxdqn train {run_dir}")
    return 0
