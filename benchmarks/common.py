"""Helpers shared by the benchmarks: medians, versions, and the reference's side environment."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax

HERE = Path(__file__).parent
REFERENCE_ENV_VAR = "JAXDQN_REFERENCE_PYTHON"


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds; ``fn`` must block until its work is done."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def versions() -> dict:
    from importlib.metadata import version
    out = {"python": platform.python_version(), "machine": f"{platform.machine()} {os.cpu_count()} cores",
           "device": str(jax.devices()[0]), "backend": jax.default_backend()}
    for pkg in ("jax", "jaxlib", "optax", "numpy", "retro-games"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
            out[pkg] = "not installed"
    return out


def reference_python(explicit: str | None) -> str | None:
    """The interpreter that has torch and retro-gamer: the flag, the env var, or this one if it has them."""
    for candidate in (explicit, os.environ.get(REFERENCE_ENV_VAR)):
        if candidate:
            return candidate
    try:
        import retro_gamer  # noqa: F401
        import torch  # noqa: F401
        return sys.executable
    except ImportError:
        return None


def run_reference(python: str | None, what: str, **kwargs) -> dict | None:
    """Run ``reference_probe.py`` under ``python``; None when the reference is not installed."""
    if python is None:
        return None
    proc = subprocess.run([python, str(HERE / "reference_probe.py"), what, json.dumps(kwargs)],
                          capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    if proc.returncode != 0:
        print(f"reference probe failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_table(rows: list[tuple], headers: tuple):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
