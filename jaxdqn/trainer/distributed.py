"""The shell's side of training on several devices and machines: joining processes, choosing the
mesh from ``[distributed]``, keeping processes in step around the run directory.

The compiled program itself is in :mod:`jaxdqn.compiled.distributed`.
"""
from __future__ import annotations

import os

import jax

from jaxdqn.compiled.distributed import Layout, make_layout
from jaxdqn.errors import JaxdqnError

JOIN_TIMEOUT_SECONDS = 300


def join_processes(distributed: dict, process_id: int | None = None) -> None:
    """Join this process to the run's others (``jax.distributed``) when ``[distributed]`` names a
    coordinator; call it before anything else uses JAX. ``process_id``: this process's number, else
    ``$JAXDQN_PROCESS_ID``, else SLURM's; with ``coordinator = "slurm"`` JAX reads everything from SLURM."""
    coordinator = distributed.get("coordinator")
    if coordinator is None or _joined():
        return
    if coordinator == "slurm":
        if "SLURM_JOB_ID" not in os.environ:
            raise JaxdqnError('[distributed] coordinator = "slurm", but this is not a SLURM job: start it with '
                              'srun (one task per machine), or give coordinator = "host:port" and num_processes')
        _initialize("the SLURM job's first node")
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
    _initialize(coordinator, coordinator_address=coordinator, num_processes=processes, process_id=process_id)


def _joined() -> bool:
    from jax._src import distributed as state
    return state.global_state.client is not None


def _initialize(where: str, **kwargs) -> None:
    try:
        jax.distributed.initialize(initialization_timeout=JOIN_TIMEOUT_SECONDS, **kwargs)
    except RuntimeError as exc:
        text = str(exc)
        if "before any JAX" in text or "must be called before" in text:
            raise JaxdqnError("joining the other processes must come before anything uses JAX: call "
                              "jaxdqn.trainer.distributed.join_processes(...) first, before load_config imports "
                              "the game") from None
        raise JaxdqnError(f"could not join the run's processes at {where} within {JOIN_TIMEOUT_SECONDS} s "
                          f"({text.splitlines()[0] if text else type(exc).__name__}): start the same command on "
                          "every machine (process 0 where the coordinator is), and check the address, the port "
                          "and the firewall between them") from None


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


def barrier(name: str) -> None:
    """Every process waits here until all have arrived (a no-op in one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
