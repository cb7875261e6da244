"""``python -m jaxdqn.train RUN_DIR``: train (or resume) the run in RUN_DIR; the same as ``jaxdqn train``."""
from __future__ import annotations

import sys

from jaxdqn.cli import Parser, run_command
from jaxdqn.cli import train as train_command


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m jaxdqn.train", description=train_command.DESCRIPTION)
    train_command.add_arguments(parser)
    return run_command(train_command.run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
