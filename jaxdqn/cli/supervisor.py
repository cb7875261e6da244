"""One process of a run on several machines, watched from a small parent process.

When one process of a multi-process run stops (killed, out of memory, its machine gone), JAX's
distributed runtime ends every other process with a native abort and a C++ stack trace, from a thread
of its own that no Python code can intercept. So ``jaxdqn train`` on a run with a ``[distributed]
coordinator`` starts the training in a child process and passes its output through: the terminal sees
what it would see anyway, until a native fatal line arrives; from there the parent keeps the rest and
says in one line which process stopped and what to do. Signals sent to the parent (Ctrl+C, SIGTERM,
SIGHUP) reach the child once each; the child keeps the usual stop rules.

The parent imports neither JAX nor the game.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

SUPERVISED_VAR = "JAXDQN_SUPERVISED"
RESUME_HINT = "run the same command on every machine to resume"
# absl's fatal log line ("F1204 17:02:44.345683   22232 client.h:80] ...") or a C++ runtime's last words
NATIVE_FATAL = re.compile(rb"(?:^|(?<=[\r\n]))(?:F\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]\n]*\] |terminate called "
                          rb"after throwing|\*\*\* Check failure stack trace)", re.M)
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def wants_supervisor(config_path) -> bool:
    """Whether this ``train`` command should run under a parent: the config names a coordinator and
    several processes, and this is not already the supervised child. A config that cannot be read, or
    an invalid ``[distributed]``, is left to the normal path, which names the problem."""
    if os.environ.get(SUPERVISED_VAR):
        return False
    try:
        import tomllib
        with open(config_path, "rb") as f:
            text = f.read().decode("utf-8-sig")
        distributed = tomllib.loads(text).get("distributed", {})
    except (OSError, ValueError, AttributeError):
        return False
    processes = distributed.get("num_processes")
    return distributed.get("coordinator") == "slurm" or (
        isinstance(distributed.get("coordinator"), str) and isinstance(processes, int) and processes > 1)


def supervise(argv: list[str], process_id: int | None) -> int:
    """Run ``python -m jaxdqn.train ARGV`` as a child, pass its output through, and return its exit code,
    or 1 with one line when JAX's runtime aborted it natively."""
    child = subprocess.Popen([sys.executable, "-m", "jaxdqn.train", *argv], stderr=subprocess.PIPE,
                             env={**os.environ, SUPERVISED_VAR: "1"}, preexec_fn=_detach)
    previous = {sig: signal.signal(sig, lambda sig, frame: _forward(child, sig)) for sig in FORWARDED}
    try:
        fatal = _pass_through(child.stderr.fileno())
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fatal is None:
        return code if code >= 0 else 128 - code
    if os.environ.get("JAXDQN_DEBUG"):
        sys.stderr.buffer.write(fatal)
    me = process_id if process_id is not None else _process_id_from_environment()
    print(f"\nerror: {describe_native_fatal(fatal.decode(errors='replace'), me)}", file=sys.stderr, flush=True)
    return 1


def _detach() -> None:
    """In the child, before it runs: a process group of its own, so a Ctrl+C at the terminal reaches the
    parent only (which passes it on once); and on Linux, killed with its parent (``kill -9`` of the command
    the user started must not leave the training running unseen)."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - an unusual libc
            pass


def _forward(child: subprocess.Popen, sig) -> None:
    try:
        child.send_signal(sig)
    except ProcessLookupError:  # pragma: no cover - it just ended
        pass


def _pass_through(fd: int) -> bytes | None:
    """Copy the child's stderr to ours until EOF; from a native fatal line on, keep it instead. Returns
    what was kept (None when nothing fatal came). A partial line is held back only while it could be the
    start of a fatal line."""
    out = sys.stderr.buffer
    held, fatal = b"", None
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:  # pragma: no cover - retried by Python itself (PEP 475)
            continue
        if not chunk:
            break
        if fatal is not None:
            fatal += chunk
            continue
        held += chunk
        found = NATIVE_FATAL.search(held)
        if found:
            out.write(held[:found.start()])
            fatal, held = held[found.start():], b""
        else:
            cut = max(held.rfind(b"\n"), held.rfind(b"\r")) + 1
            rest = held[cut:]
            keep = rest[:1] in (b"F", b"t", b"*")  # could grow into a fatal line
            out.write(held[:cut] if keep else held)
            held = rest if keep else b""
        out.flush()
    if held:
        out.write(held)
        out.flush()
    return fatal


def describe_native_fatal(text: str, me: int | None) -> str:
    """The one line for what JAX's runtime said before it aborted this process (``me``: its number)."""
    after = text.split("unhealthy", 1)[1] if "unhealthy" in text else ""
    ids = sorted({int(k) for k in re.findall(r"task:(\d+)", after) + re.findall(r"^\s*(\d+)\s*$", after, re.M)}
                 - {me})
    resume = f"{RESUME_HINT} (training continues from the newest checkpoint)"
    if ids:
        return f"process {', '.join(map(str, ids))} stopped; {resume}"
    if me != 0 and re.search(r"leader task|RPC to coordination service|Socket closed", text):
        return f"process 0 (the coordinator) stopped or cannot be reached; {resume}"
    if "another task died" in text or "unhealthy" in text:
        return f"another process stopped; {resume}"
    first = next((line for line in text.splitlines() if line.strip()), "").strip()
    first = re.sub(r"^F\d{4} [^\]]*\] ", "", first)
    return (f"JAX's runtime stopped this process: {first[:300]}. If another process of the run stopped first, "
            f"see its output; then {RESUME_HINT}")


def _process_id_from_environment() -> int | None:
    for name in ("JAXDQN_PROCESS_ID", "SLURM_PROCID"):
        try:
            return int(os.environ[name])
        except (KeyError, ValueError):
            continue
    return None
