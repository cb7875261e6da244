"""Choosing where JAX runs: Apple Metal, then CUDA, then CPU (the reference's mps, cuda, cpu order).

Override with ``device = "cpu" | "cuda" | "metal" | "auto"`` in ``[training]`` or the
``JAXDQN_DEVICE`` environment variable (the variable wins, so one run can be moved
without editing its config).
"""
from __future__ import annotations

import os
from typing import Any, NamedTuple

from jaxdqn.errors import JaxdqnError

ENV_VAR = "JAXDQN_DEVICE"
CHOICES = ("auto", "metal", "cuda", "cpu")
_BACKEND_NAMES = {"metal": "METAL", "cuda": "cuda", "cpu": "cpu"}
AUTO_ORDER = ("metal", "cuda", "cpu")


class DeviceUnavailable(JaxdqnError):
    """A backend was requested by name but JAX cannot use it on this machine."""


class DeviceChoice(NamedTuple):
    device: Any  # a jax.Device
    kind: str  # "metal", "cuda" or "cpu"
    description: str  # one line for training.log
    note: str | None = None  # why an automatic choice fell back, if it did


def _devices(kind: str) -> list:
    import jax
    try:
        return jax.devices(_BACKEND_NAMES[kind])
    except RuntimeError:
        return []


def _describe(kind: str, device) -> str:
    import jax
    name = getattr(device, "device_kind", "") or str(device)
    return f"{kind} ({name}, jax {jax.__version__}, backend {device.platform})"


def metal_plugin_installed() -> bool:
    """Whether the ``jax-metal`` plugin is installed, whether or not it loads with this jax."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("jax-metal")
        return True
    except PackageNotFoundError:
        return False


def select_device(requested: str | None = None) -> DeviceChoice:
    """Resolve ``requested`` (or ``$JAXDQN_DEVICE``, else ``auto``) to a JAX device."""
    requested = (os.environ.get(ENV_VAR) or requested or "auto").strip().lower()
    if requested not in CHOICES:
        raise DeviceUnavailable(
            f"device = {requested!r} is not a known device. Use one of: {', '.join(CHOICES)} "
            f"(in [training] of config.toml or the {ENV_VAR} environment variable)."
        )
    if requested != "auto":
        found = _devices(requested)
        if not found:
            hint = {
                "cuda": "install the CUDA build with: pip install 'jaxdqn[cuda]' (needs an NVIDIA GPU and driver)",
                "metal": "the jax-metal plugin only works with old jax releases; use device = \"cpu\"",
                "cpu": "this should not happen; reinstall jax",
            }[requested]
            raise DeviceUnavailable(
                f"device = {requested!r} was requested, but JAX has no {requested} backend here. "
                f"To fix it, {hint}, or set device = \"auto\"."
            )
        return DeviceChoice(found[0], requested, _describe(requested, found[0]))
    note = None
    for kind in AUTO_ORDER:
        found = _devices(kind)
        if found:
            if kind == "cpu" and metal_plugin_installed():
                import jax
                note = ("jax-metal is installed but did not load with jax "
                        f"{jax.__version__} (it needs an old jax); falling back to CPU")
            return DeviceChoice(found[0], kind, _describe(kind, found[0]), note)
    raise DeviceUnavailable("JAX reports no devices at all; reinstall jax")  # pragma: no cover
