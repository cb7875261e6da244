"""oneDNN's 3x3 convolution for XLA on CPUs: found, compiled once per machine, loaded, registered.

XLA:CPU runs a 3x3 convolution's backward passes at about a third of oneDNN's speed (the library
PyTorch uses), and they are most of a CNN update (docs/benchmarks.md). ``conv3x3.cc`` calls oneDNN
through XLA's FFI. It is compiled with the machine's C++ compiler, JAX's FFI headers and the
``onednn-cpu-gomp`` wheels (dependencies on Linux x86-64) into jaxdqn's cache folder the first time
a convolution is traced, then reused. Where any part is missing, :func:`load` says why in one line
and convolutions stay on XLA's path: same numbers, slower.

``JAXDQN_CONVOLUTION=xla`` keeps XLA's path; ``=onednn`` makes a failed build an error;
``JAXDQN_ONEDNN_ROOT`` names a oneDNN install (``include/``, ``lib/``) to use instead of the wheels;
``CXX`` the compiler; ``JAXDQN_CACHE_DIR`` the cache folder (default ``~/.cache/jaxdqn``).
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

SOURCE = Path(__file__).with_name("conv3x3.cc")
TARGETS = {"jaxdqn_conv3x3": "JaxdqnConv3x3",  # XLA custom-call name -> the library's symbol
           "jaxdqn_conv3x3_input_grad": "JaxdqnConv3x3InputGrad",
           "jaxdqn_conv3x3_weight_grad": "JaxdqnConv3x3WeightGrad"}
WHEELS = ("onednn-cpu-gomp", "onednn-devel-cpu-gomp")  # the library, its headers
CHOICES = ("auto", "onednn", "xla")

log = logging.getLogger(__name__)


class Backend(NamedTuple):
    """Which convolution a CNN gets in this process, and one line saying so (or why not oneDNN)."""

    onednn: bool
    line: str


class OneDNN(NamedTuple):
    include: Path  # holds oneapi/dnnl/dnnl.hpp
    library: Path  # libdnnl.so.3
    version: str


class Unavailable(Exception):
    """oneDNN's kernel cannot be used here; the message says why, for the log line."""


_lock = threading.Lock()
_backend: Backend | None = None


def choice() -> str:
    """``JAXDQN_CONVOLUTION``: auto (oneDNN where it builds), onednn (required) or xla."""
    value = os.environ.get("JAXDQN_CONVOLUTION", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"JAXDQN_CONVOLUTION={value!r} is not one of {', '.join(CHOICES)}; "
                         "unset it to use oneDNN where it builds")
    return value


def load() -> Backend:
    """Builds (first time on this machine), loads and registers the kernel once per process.

    Returns the backend convolutions use. A failure is logged once, as a warning, unless XLA was
    asked for; with ``JAXDQN_CONVOLUTION=onednn`` it raises instead.
    """
    global _backend
    with _lock:
        if _backend is None:
            _backend = _load(choice())
        return _backend


def _load(wanted: str) -> Backend:
    if wanted == "xla":
        return Backend(False, "XLA's (JAXDQN_CONVOLUTION=xla)")
    try:
        found = find_onednn()
        _register(build(found))
    except Unavailable as why:
        if wanted == "onednn":
            raise RuntimeError(f"JAXDQN_CONVOLUTION=onednn, but oneDNN's kernel is unavailable: {why}") from None
        line = f"XLA's, slower on CPUs: oneDNN's kernel is unavailable ({why})"
        log.warning("convolutions: %s", line)
        return Backend(False, line)
    return Backend(True, f"oneDNN {found.version} (jaxdqn's FFI kernel)")


def find_onednn() -> OneDNN:
    """The oneDNN headers and library: ``JAXDQN_ONEDNN_ROOT``, else the installed wheels."""
    root = os.environ.get("JAXDQN_ONEDNN_ROOT")
    if root:
        include, library = Path(root) / "include", Path(root) / "lib" / "libdnnl.so.3"
        if not (include / "oneapi" / "dnnl" / "dnnl.hpp").is_file() or not library.is_file():
            raise Unavailable(f"JAXDQN_ONEDNN_ROOT={root} lacks include/oneapi/dnnl/dnnl.hpp or lib/libdnnl.so.3")
        return OneDNN(include, library, "(JAXDQN_ONEDNN_ROOT)")
    if not sys.platform.startswith("linux"):
        raise Unavailable(f"no oneDNN wheel for {sys.platform}; set JAXDQN_ONEDNN_ROOT to a oneDNN 3 install")
    try:
        lib_dist, dev_dist = (metadata.distribution(name) for name in WHEELS)
    except metadata.PackageNotFoundError as missing:
        raise Unavailable(f"the {missing.name} wheel is not installed (pip install {' '.join(WHEELS)})") from None
    library = _installed_file(lib_dist, "libdnnl.so.3")
    header = _installed_file(dev_dist, "dnnl.hpp", parent="dnnl")
    return OneDNN(header.parent.parent.parent, library, lib_dist.version)


def _installed_file(dist, name: str, parent: str | None = None) -> Path:
    for file in dist.files or ():
        if file.name == name and (parent is None or file.parent.name == parent):
            path = Path(dist.locate_file(file)).resolve()
            if path.is_file():
                return path
    raise Unavailable(f"the {dist.metadata['Name']} wheel has no {name}; reinstall it")


def cache_dir() -> Path:
    """jaxdqn's cache folder: ``JAXDQN_CACHE_DIR``, else ``jaxdqn`` in ``XDG_CACHE_HOME`` or ``~/.cache``."""
    if os.environ.get("JAXDQN_CACHE_DIR"):
        return Path(os.environ["JAXDQN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxdqn"


def build(found: OneDNN) -> Path:
    """The compiled kernel for this source, jaxlib and oneDNN, from the cache or compiled now."""
    import jaxlib

    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), jaxlib.__version__.encode(),
                                     str(found.library).encode()])).hexdigest()[:16]
    target = cache_dir() / f"conv3x3-{key}.so"
    if target.is_file():
        return target
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler or not shutil.which(compiler):
        raise Unavailable(f"no C++ compiler found ({compiler or 'g++ or c++'}): install one, or set CXX")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _compile(compiler, found, target)
    except OSError as error:  # an unwritable cache folder, a full disk
        raise Unavailable(f"could not write {target}: {error.strerror or error}") from None


def _compile(compiler: str, found: OneDNN, target: Path) -> Path:
    import jax

    command = [compiler, "-O2", "-std=c++17", "-shared", "-fPIC", "-w", str(SOURCE),
               f"-I{jax.ffi.include_dir()}", f"-I{found.include}", f"-L{found.library.parent}",
               f"-l:{found.library.name}", f"-Wl,-rpath,{found.library.parent}"]
    log.info("convolutions: compiling oneDNN's kernel into %s (once per machine)", target)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:  # the rename makes a whole file appear at once
        part = Path(work) / target.name
        try:
            done = subprocess.run([*command, "-o", str(part)], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Unavailable(f"{compiler} could not run: {error}") from None
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            first_error = next((line for line in lines if "error" in line), lines[-1])
            raise Unavailable(f"{compiler} failed: {first_error.strip()}")
        os.replace(part, target)
    return target


def _register(path: Path) -> None:
    import jax

    try:
        library = ctypes.CDLL(str(path))
    except OSError as error:  # e.g. libdnnl.so.3 moved since the build
        raise Unavailable(f"{path} does not load: {error}") from None
    for name, symbol in TARGETS.items():
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, symbol)), platform="cpu")
