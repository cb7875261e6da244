"""The ``jaxdqn`` command: create, train, play, eval, plot, info and clean a run directory, and check-port a game
written in JAX against its retro twin.

The parser lives here; each subcommand is a module with ``add_parser(subparsers)`` and
``run(args) -> exit code``, importing JAX and the game only when it runs, so ``--help`` is
instant. :func:`reporting_errors` is the one place that turns errors into messages and exit codes.
The ``train`` command is :mod:`jaxdqn.train` (so that ``python -m jaxdqn.train`` runs it).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from jaxdqn.errors import JaxdqnError

DEBUG_VAR = "JAXDQN_DEBUG"
RUN_DIR_HELP = "a run directory containing config.toml, e.g. runs/snake"
AGENT_HELP = ("which agent of a run of several (num_seeds, a [sweep]: training.log's [INIT] Sweep lines number "
              "them) [0]")
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
    the folder (default: ``jax`` in jaxdqn's cache folder); ``JAXDQN_COMPILATION_CACHE=0`` turns it
    off. Set before JAX is imported."""
    if os.environ.get("JAXDQN_COMPILATION_CACHE", "1") == "0" or "jax" in sys.modules:
        return
    from jaxdqn.native.onednn import cache_dir  # imports no JAX
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_dir() / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


class Outcome:
    """A command's exit code: what it returned, or what its error became."""

    code: int = 0


@contextlib.contextmanager
def reporting_errors():
    """Around a command: errors raised in the block become one message and a non-zero ``outcome.code``
    (2 for the user's input, 130 for Ctrl+C, 1 else); the command sets ``outcome.code`` itself otherwise."""
    quiet_third_party_logs()
    use_compilation_cache()
    outcome = Outcome()
    try:
        yield outcome
    except JaxdqnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        outcome.code = 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        outcome.code = 130
    except Exception as exc:  # noqa: BLE001 - anything else is reported without a traceback
        outcome.code = report_unexpected(exc)


class Parser(argparse.ArgumentParser):
    """argparse, with a suggestion for a misspelt option: the closest option of the command, or the
    config.toml setting it looks like (hyperparameters are set in config.toml, not on the command line)."""

    def parse_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str):
        if message.startswith("unrecognized arguments:"):
            command = _command_parser(self, getattr(self, "_argv", []))
            hints = [hint for word in message.split(":", 1)[1].split() if word.startswith("--")
                     for hint in [suggest_option(word, command)] if hint]
            if hints:
                message += "\n" + "\n".join(hints)
        super().error(message)


def suggest_option(word: str, parser: argparse.ArgumentParser) -> str | None:
    """A 'did you mean' for an unknown ``--option``: an option of ``parser`` (the command's), else a
    config.toml key."""
    import difflib

    from jaxdqn.config.schema import DISTRIBUTED_KEYS, MODEL_DEFAULTS, TRAINING_KEYS
    from jaxdqn.errors import closest

    name = word.split("=", 1)[0]
    options = {option for action in parser._actions for option in action.option_strings if option.startswith("--")}
    keys = {**{k: "model" for k in MODEL_DEFAULTS}, **{k: "training" for k in TRAINING_KEYS},
            **{k: "distributed" for k in DISTRIBUTED_KEYS}}
    as_key = name.lstrip("-").replace("-", "_")
    option, key = closest(name, options), closest(as_key, keys)

    def score(a, b):
        return difflib.SequenceMatcher(None, a, b).ratio() if b else 0.0
    if option and score(name, option) >= score(as_key, key):
        return f"did you mean {option}?"
    if key:
        return (f"{name} looks like the setting {key!r}: settings are not options; set {key} = ... under "
                f"[{keys[key]}] in RUN_DIR/config.toml")
    return None


def _command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The parser of the command ``argv`` names (``parser`` itself when it has no commands)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word in argv:
                if word in action.choices:
                    return action.choices[word]
    return parser


def build_parser() -> argparse.ArgumentParser:
    from jaxdqn import train
    from jaxdqn.cli import check_port, clean, create, evaluate, info, play, plot

    parser = Parser(prog="jaxdqn", description="Teach a DQN agent to play a retro-games game.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for module in (create, train, play, evaluate, plot, info, clean, check_port):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # blessed asks the terminal about its capabilities and waits 5 s for each answer; a terminal
    # that never answers (many multiplexers, serial consoles) would leave play blank for 10 s.
    os.environ.setdefault("BLESSED_QUERY_TIMEOUT_SECONDS", "0.5")
    args = build_parser().parse_args(argv)
    with reporting_errors() as outcome:
        outcome.code = args.func(args)
    return outcome.code
