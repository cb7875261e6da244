"""Disk space and storage failures, told in a line a user can act on."""
from __future__ import annotations

import errno
from pathlib import Path

from jaxdqn.errors import JaxdqnError


class DiskFull(JaxdqnError):
    """No space left where a run writes."""


def short_reason(exc: BaseException) -> str:
    """One line on why reading or writing failed, without a third-party traceback."""
    text = " ".join(str(exc).split()).split(" See full TensorStore details")[0]
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_disk_full(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover
