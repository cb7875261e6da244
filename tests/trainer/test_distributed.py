"""Runs on several devices and processes through the CLI: one writer, resume, clear refusals."""
import socket

import pytest

from runs import PAINT_CONFIG, make_run, popen_cli, run_cli
from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.run.log import parse_log
from jaxdqn.run.metrics import read_metrics

TWO_PROCESSES = """
[distributed]
devices = 4
data_parallel = 2
coordinator = "127.0.0.1:{port}"
num_processes = 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(run):
    """The same command on two 'machines' (2 CPU devices each); their outputs."""
    devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    others = popen_cli(run, "--process-id", "1", **devices)
    first = popen_cli(run, "--process-id", "0", **devices)
    outputs = [p.communicate(timeout=300) + (p.returncode,) for p in (first, others)]
    for out, err, code in outputs:
        assert code == 0, err[-3000:]
    return outputs


@pytest.mark.slow
def test_two_processes_train_one_run_and_resume_it_only_with_two(tmp_path):
    config = PAINT_CONFIG + TWO_PROCESSES.format(port=free_port())
    run = make_run(tmp_path, config, num_seeds=2, num_envs=2, train_every=2, memory_capacity=400)
    (first, _, _), (other, _, _) = two_processes(run)
    assert "Done." in first and "Training;" in first
    # the first process speaks for the run (gloo, JAX's CPU collectives, prints its connections itself)
    assert [line for line in other.splitlines() if line.strip() and not line.startswith("[Gloo]")] == []
    log = (run / "training.log").read_text()
    assert "[INIT] Distributed: 4 device(s) in 2 process(es): 2 group(s) of 1 agent(s), each agent split over 2" in log
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20]
    assert sorted({int(r["agent"]) for r in read_metrics(run / "metrics.csv")}) == [0, 1]
    assert Checkpoints(run / "checkpoints").read_meta(20)["layout"] == {"agent_groups": 2, "data": 2, "per_device": 1,
                                                                        "processes": 2}

    (run / "config.toml").write_text((run / "config.toml").read_text().replace("training_episodes = 20",
                                                                               "training_episodes = 30"))
    (first, _, _), _ = two_processes(run)
    assert "Resuming from ep_0020" in first
    assert [s.episode for s in parse_log(run / "training.log")] == [10, 20, 30]

    alone = (run / "config.toml").read_text().split("coordinator")[0]  # the same 4 devices, in one process
    (run / "config.toml").write_text(alone)
    done = run_cli(run, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "ep_0030 was written by 4 device(s) in 2 process(es)" in done.stderr
    assert "same [distributed] settings and number of processes" in done.stderr


def test_more_devices_than_there_are_is_refused_with_the_count(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG + "\n[distributed]\ndevices = 8\n", num_seeds=8)
    # two forced host devices: the CPU's, also when the suite runs on a GPU
    done = run_cli(run, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "[distributed] devices = 8, but 2 device(s) can be seen" in done.stderr
    assert not (run / "training.log").exists()


@pytest.mark.slow
def test_process_ids_are_checked_before_joining(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG + TWO_PROCESSES.format(port=free_port()), num_envs=2)
    missing = run_cli(run)
    assert missing.returncode == 2 and "--process-id K" in missing.stderr and "JAXDQN_PROCESS_ID" in missing.stderr
    beyond = run_cli(run, "--process-id", "2")
    assert beyond.returncode == 2 and "process id 2 is not one of this run's 2 processes" in beyond.stderr
    slurm = run.parent / "slurm"
    slurm.mkdir()
    (slurm / "config.toml").write_text(PAINT_CONFIG + '\n[distributed]\ndevices = "all"\ncoordinator = "slurm"\n')
    outside = run_cli(slurm)
    assert outside.returncode == 2 and "not a SLURM job" in outside.stderr and "srun" in outside.stderr
