"""The shell's side of training on several devices and machines: joining processes, checking that they
run the same thing, choosing the mesh from ``[distributed]``, keeping processes in step around the run
directory.

Every wait on the other processes has a bound (``[distributed] timeout``) and a message, and runs on a
helper thread so that Ctrl+C and SIGTERM still reach this one: JAX's distributed runtime blocks in native
code, where Python's signal handlers never run. (A process that stops mid-run makes JAX's runtime abort the
others natively; :mod:`jaxdqn.cli.supervisor` turns that into one line.) The compiled program itself is in
:mod:`jaxdqn.core.sharding`.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import jax

from jaxdqn.core.sharding import Layout, make_layout
from jaxdqn.errors import JaxdqnError

JOIN_NOTE = ".jaxdqn-join"  # process 0 writes it in the run directory; the others must see it there
RESUME_HINT = "run the same command on every machine to resume"
JOIN_HINT = ("start the same command on every machine (process 0 where the coordinator is), and check the address, "
             "the port and the firewall between them")


def join_processes(distributed: dict, process_id: int | None = None, stop=None) -> None:
    """Join this process to the run's others (``jax.distributed``) when ``[distributed]`` names a
    coordinator; call it before anything else uses JAX. ``process_id``: this process's number, else
    ``$JAXDQN_PROCESS_ID``, else SLURM's; with ``coordinator = "slurm"`` JAX reads everything from SLURM.
    ``stop``: the command's :class:`~jaxdqn.run.stop.StopRequests`; a stop request while joining quits."""
    coordinator = distributed.get("coordinator")
    if coordinator is None or _joined():
        return
    timeout = distributed["timeout"]
    if coordinator == "slurm":
        if "SLURM_JOB_ID" not in os.environ:
            raise JaxdqnError('[distributed] coordinator = "slurm", but this is not a SLURM job: start it with '
                              'srun (one task per machine), or give coordinator = "host:port" and num_processes')
        _initialize("the SLURM job's first node", timeout, stop)
        return
    processes = distributed["num_processes"]
    if process_id is None:
        given = os.environ.get("JAXDQN_PROCESS_ID", os.environ.get("SLURM_PROCID"))
        if given is None:
            raise JaxdqnError(f"[distributed] coordinator = {coordinator!r}: say which of the {processes} processes "
                              "this is with --process-id K (0 on the coordinator's machine, then 1, 2, ...) or "
                              "JAXDQN_PROCESS_ID=K")
        try:
            process_id = int(given)
        except ValueError:
            raise JaxdqnError(f"JAXDQN_PROCESS_ID={given!r} is not a whole number: give 0 to "
                              f"{processes - 1}") from None
    if not 0 <= process_id < processes:
        raise JaxdqnError(f"process id {process_id} is not one of this run's {processes} processes "
                          f"([distributed] num_processes): give 0 to {processes - 1}")
    if process_id == 0:
        _check_port_free(coordinator)
    _initialize(coordinator, timeout, stop, coordinator_address=coordinator, num_processes=processes,
                process_id=process_id)


def _joined() -> bool:
    from jax._src import distributed as state
    return state.global_state.client is not None


def _check_port_free(coordinator: str) -> None:
    """Process 0 serves the coordinator on its port; JAX's server shares a port it finds taken (it sets
    SO_REUSEPORT), so a second process 0 would wait silently beside the first."""
    port = int(coordinator.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return
            raise JaxdqnError(f"[distributed] coordinator {coordinator!r}: port {port} on this machine is already "
                              "in use, by another process 0 (was --process-id 0 given twice?) or another program: "
                              "stop it, or choose a free port in coordinator on every machine") from None


def _initialize(where: str, timeout: float, stop, **kwargs) -> None:
    """``jax.distributed.initialize`` with a bound of ``timeout`` seconds (JAX's own, a little longer, ends
    in a native abort) and a stop request honoured while waiting."""
    def join():
        # a process not heard from for this long counts as stopped (JAX's default: 100 s)
        heartbeat = int(max(10, min(100, timeout)))
        jax.distributed.initialize(initialization_timeout=int(timeout) + 60, heartbeat_timeout_seconds=heartbeat,
                                   **kwargs)

    waiting = stop.waiting("waiting for the other processes to join") if stop is not None else nullcontext()
    with waiting:
        try:
            wait_for(join, timeout, f"could not join the run's processes at {where} within {timeout:g} s "
                                    f"([distributed] timeout): {JOIN_HINT}")
        except RuntimeError as exc:
            text = str(exc)
            if "before any JAX" in text or "must be called before" in text:
                raise JaxdqnError("joining the other processes must come before anything uses JAX: call "
                                  "jaxdqn.trainers.processes.join_processes(...) first, before load_config "
                                  "imports the game") from None
            raise JaxdqnError(f"could not join the run's processes at {where} "
                              f"({_first_line(text) or type(exc).__name__}): {JOIN_HINT}") from None


def wait_for(call: Callable, timeout: float, late: str):
    """``call()``, a blocking call into JAX's distributed runtime, on a helper thread: this thread keeps
    handling signals meanwhile. After ``timeout`` seconds without an answer the process ends with ``late``
    (the call cannot be cancelled, and leaving it behind would hang the interpreter's exit)."""
    from jaxdqn.run.stop import call_beside
    return call_beside(call, timeout, lambda: abandon(late))


def abandon(message: str) -> None:
    """End the process now with ``message``: it waited on others in vain, and a normal exit would wait
    for them again (JAX shuts its distributed client down at exit)."""
    print(f"\nerror: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _client():
    from jax._src import distributed as state
    return state.global_state.client


def _get(key: str, timeout: float, late: str) -> str:
    client = _client()
    try:
        return wait_for(lambda: client.blocking_key_value_get(key, int(timeout * 1000)), timeout + 5, late)
    except Exception:  # noqa: BLE001 - the runtime's own deadline
        abandon(late)


def agree_on_run(run_dir: str | Path, load: Callable[[], object], timeout: float):
    """Check that every process sees the same run directory and the same config, then return this
    process's config (``load()``). Process 0 first leaves a note with a random token in the run directory;
    each other process reads it from its own, so a directory that is not shared (each machine its own
    copy, which would hang at the first checkpoint) is found before anything is trained. Each process then
    compares its config with process 0's. Every process hears every verdict, so all refuse together with
    the same line."""
    run_dir = Path(run_dir)
    me, count = jax.process_index(), jax.process_count()
    note = run_dir / JOIN_NOTE
    late = (f"the other processes did not answer within {timeout:g} s ([distributed] timeout) while checking "
            f"that they run the same config; {RESUME_HINT}")
    if me == 0:
        token = secrets.token_hex(8)
        note.write_text(token + "\n")
        _client().key_value_set("jaxdqn/run", json.dumps({"token": token, "dir": str(run_dir.resolve())}))
    here = json.loads(_get("jaxdqn/run", timeout, late))
    problems, config = [], None
    try:
        seen = note.read_text().strip() if note.is_file() else None
    except OSError:
        seen = None
    if seen != here["token"]:
        problems.append(f"its run directory {run_dir.resolve()} is not the one process 0 uses ({here['dir']} on "
                        "process 0's machine): every process must see the same run directory, on a disk the "
                        "machines share (each writes its share of every checkpoint there)")
    try:
        config = load()
    except JaxdqnError as exc:
        problems.append(f"its config cannot be used: {exc}")
    settings = _settings(config) if config is not None else {}
    if me == 0:
        _client().key_value_set("jaxdqn/settings", json.dumps(settings, sort_keys=True, default=str))
    elif config is not None:
        first = json.loads(_get("jaxdqn/settings", timeout, late))
        problems.append(_settings_differ(first, settings) if first else "")
    problem = "; ".join(p for p in problems if p)
    _client().key_value_set(f"jaxdqn/verdict/{me}", problem)
    verdicts = [_get(f"jaxdqn/verdict/{k}", timeout, late) for k in range(count)]
    if me == 0:
        note.unlink(missing_ok=True)
    refused = [f"process {k}: {text}" for k, text in enumerate(verdicts) if text]
    if refused:
        raise JaxdqnError("the processes do not run the same thing, so none of them starts:\n  "
                          + "\n  ".join(refused))
    return config


def _settings(config) -> dict:
    """What must be the same in every process: every section of the config (metadata resolved), except
    where the game's files are (the shared disk may be mounted at different places)."""
    out = {}
    for section in ("game", "preprocessing", "model", "training", "distributed"):
        for key, value in (getattr(config, section) or {}).items():
            out[f"{section}.{key}"] = value
    out.pop("game.path", None)
    if config.metadata is not None:
        for key, value in config.metadata.to_dict().items():
            out[f"metadata.{key}"] = value
    return json.loads(json.dumps(out, default=str))


def _settings_differ(first: dict, mine: dict) -> str:
    keys = sorted(k for k in set(first) | set(mine) if first.get(k) != mine.get(k))
    if not keys:
        return ""
    shown = "; ".join(f"{k} is {mine.get(k)!r} here, {first.get(k)!r} on process 0" for k in keys[:4])
    more = f" (and {len(keys) - 4} more)" if len(keys) > 4 else ""
    return (f"its config differs from process 0's: {shown}{more}. Every process must train the same config: "
            "use one config.toml on a disk the machines share")


def layout_for(distributed: dict, num_seeds: int) -> Layout | None:
    """The mesh ``[distributed]`` asks for, checked against the devices there are; None for one device in
    one process (the plain compiled loop)."""
    available = len(jax.devices())
    wanted = available if distributed["devices"] == "all" else distributed["devices"]
    data = distributed["data_parallel"]
    if wanted > available:
        raise JaxdqnError(f"[distributed] devices = {wanted}, but {available} device(s) can be seen "
                          f"({jax.process_count()} process(es) of {jax.devices()[0].platform}): set devices = "
                          f"{available} or \"all\"")
    if jax.process_count() > 1 and wanted != available:
        raise JaxdqnError(f"[distributed] devices = {wanted} of the {available} in {jax.process_count()} processes: "
                          "with several processes every device takes part; set devices = \"all\"")
    if wanted % data:
        raise JaxdqnError(f"[distributed] data_parallel = {data} does not divide the {wanted} device(s): choose a "
                          "divisor of the number of devices")
    groups = wanted // data
    if num_seeds % groups:
        raise JaxdqnError(f"training.num_seeds = {num_seeds} does not split over {groups} group(s) of devices "
                          f"({wanted} device(s), data_parallel = {data}): make num_seeds a multiple of {groups}")
    if wanted == 1 and jax.process_count() == 1:
        return None
    return make_layout(wanted, data, num_seeds)


def describe_layout(layout: dict | None) -> str:
    """A checkpoint's ``layout`` metadata in words."""
    if not layout:
        return "one device"
    return (f"{layout['agent_groups'] * layout['data']} device(s) in {layout['processes']} process(es) "
            f"(data_parallel = {layout['data']})")


def barrier(name: str, timeout: float) -> None:
    """Every process waits here until all have arrived (a no-op in one process), at most ``timeout``
    seconds; a stop request still reaches this process meanwhile."""
    if jax.process_count() > 1:
        client = _client()
        try:
            wait_for(lambda: client.wait_at_barrier(name, int(timeout * 1000)), timeout + 5,
                     f"the other processes did not reach {name} within {timeout:g} s ([distributed] timeout); "
                     f"{RESUME_HINT}")
        except Exception as exc:  # noqa: BLE001 - the runtime's deadline, said in one line
            abandon(f"the other processes did not reach {name} within {timeout:g} s ([distributed] timeout: "
                    f"{_first_line(str(exc))[:200]}); {RESUME_HINT}")
