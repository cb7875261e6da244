"""User-facing errors: every problem found at once, each with what is wrong, why it matters, and a fix."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "training.batch_size" or "tool.retro-gamer.actions"
    what: str  # what is wrong, quoting the value
    why: str  # why it matters
    fix: str  # an example fix the user can paste

    def format(self) -> str:
        return f"  {self.field}: {self.what}\n    why: {self.why}\n    fix: {self.fix}"


class JaxdqnError(Exception):
    """Any error the CLI prints as a message (no traceback) before exiting non-zero."""


class ConfigError(JaxdqnError, ValueError):
    """One or more problems in a config file or game metadata."""

    def __init__(self, problems: list[Problem], source: str, footer: str | None = None):
        self.problems = list(problems)
        self.source = source
        self.footer = footer
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"Found {n} problem{'s' if n != 1 else ''} in {self.source}:"
        body = "\n\n".join(p.format() for p in self.problems)
        tail = f"\n\n{self.footer}" if self.footer else ""
        return f"{head}\n\n{body}{tail}"


def closest(name: str, candidates) -> str | None:
    """The most similar valid name, for 'did you mean' suggestions."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return match[0] if match else None


def unknown_keys(table: dict, known, field_prefix: str, what: str) -> list[Problem]:
    """A problem for each key of ``table`` that is not in ``known``, suggesting the closest valid name."""
    problems = []
    for key in table:
        if key in known:
            continue
        guess = closest(key, known)
        problems.append(Problem(f"{field_prefix}.{key}", f"is not a known {what}",
                                f"a misspelt key would be silently ignored; known: {', '.join(known)}",
                                f"did you mean {guess!r}? Rename it." if guess else "remove it"))
    return problems


def is_int(value) -> bool:
    """A whole number, and not a bool (TOML's true/false are Python ints too)."""
    return isinstance(value, int) and not isinstance(value, bool)


def raise_if(problems: list[Problem], source: str, footer: str | None = None) -> None:
    if problems:
        raise ConfigError(problems, source, footer)
