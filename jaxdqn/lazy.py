"""Names a package offers but imports on first use, so importing the package stays light (no JAX)."""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_attributes(package: str, exports: dict[str, str], namespace: dict,
                    fallback: Callable[[str], object] | None = None):
    """``(__getattr__, __dir__)`` for a package whose ``exports`` map names to the modules holding them; a
    name found once is kept in ``namespace``. ``fallback(name)`` is asked about other names (it raises
    AttributeError when it has none)."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            if fallback is not None:
                return fallback(name)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
