"""The ``jaxdqn`` command: create, train, play, eval, plot, info and clean a run directory.

The parser lives here; each subcommand is a module with ``add_parser(subparsers)`` and
``run(args) -> exit code``, importing JAX and the game only when it runs, so ``--help`` is
instant. :func:`run_command` is the one place that turns errors into messages and exit codes.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from jaxdqn.errors import JaxdqnError

DEBUG_VAR = "JAXDQN_DEBUG"
RUN_DIR_HELP = "a run directory containing config.toml, e.g. runs/snake"
RUNS_GAME_CODE = "This command imports the game named in config.toml and runs its code."
READS_FILES_ONLY = "This command only reads files: it never imports or runs the game's code."


def report_unexpected(exc: BaseException) -> int:
    """A one-paragraph account of an error from the user's game or the environment."""
    if os.environ.get(DEBUG_VAR):
        traceback.print_exception(exc)
        return 1
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    text = str(exc)
    if isinstance(exc, MemoryError) or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text:
        print(f"error: out of memory{where}: {type(exc).__name__}: {' '.join(text.split())[:300]}\n"
              "The run needs more memory than this machine has. Lower memory_capacity, hidden_sizes or batch_size "
              f"(or the board the network sees), then run the same command again; set {DEBUG_VAR}=1 for the full "
              "traceback.", file=sys.stderr)
        return 1
    from jaxdqn.run.disk import is_disk_full
    if is_disk_full(exc):
        print(f"error: the disk is full{where}. Free some space (or lower keep_checkpoints) and run the same "
              "command again.", file=sys.stderr)
        return 1
    print(f"error: {type(exc).__name__}: {text}{where}\n"
          f"If this comes from your game's code, fix it there; set {DEBUG_VAR}=1 for the full traceback.",
          file=sys.stderr)
    return 1


def quiet_third_party_logs() -> None:
    """Keep Orbax's and absl's warnings and background threads' tracebacks out of the terminal (unless
    debugging): what matters reaches the user as jaxdqn's own one-line message."""
    if os.environ.get(DEBUG_VAR):
        return
    import logging
    import threading
    for name in ("absl", "orbax", "jax", "asyncio"):  # asyncio: Orbax's failed writes after a full disk
        logging.getLogger(name).setLevel(logging.CRITICAL)
    sys.unraisablehook = lambda unraisable: None  # e.g. TensorStore callbacks after a failed read
    threading.excepthook = lambda args: None


def use_compilation_cache() -> None:
    """Keep compiled programs between runs (JAX's persistent cache), so a resumed run or a second
    ``play`` starts in seconds instead of compiling again. ``JAX_COMPILATION_CACHE_DIR`` chooses
    the folder; ``JAXDQN_COMPILATION_CACHE=0`` turns it off. Set before JAX is imported."""
    if os.environ.get("JAXDQN_COMPILATION_CACHE", "1") == "0" or "jax" in sys.modules:
        return
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(cache_home, "jaxdqn", "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


def run_command(func, args) -> int:
    """Run a subcommand: errors become one message and a non-zero exit (2 for the user's input, 1 else)."""
    quiet_third_party_logs()
    use_compilation_cache()
    try:
        return func(args)
    except JaxdqnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - anything else is reported without a traceback
        return report_unexpected(exc)


def build_parser() -> argparse.ArgumentParser:
    from jaxdqn.cli import clean, create, evaluate, info, play, plot, train

    parser = argparse.ArgumentParser(prog="jaxdqn", description="Teach a DQN agent to play a retro-games game.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (create, train, play, evaluate, plot, info, clean):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # blessed asks the terminal about its capabilities and waits 5 s for each answer; a terminal
    # that never answers (many multiplexers, serial consoles) would leave play blank for 10 s.
    os.environ.setdefault("BLESSED_QUERY_TIMEOUT_SECONDS", "0.5")
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)
