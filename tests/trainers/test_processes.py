"""Runs on several devices and processes through the CLI: one writer, resume, clear refusals."""
import signal
import socket
import time

import pytest

from jaxdqn.run.checkpoints import Checkpoints
from jaxdqn.run.log import parse_log
from jaxdqn.run.metrics import read_metrics
from tests.support.runs import PAINT_CONFIG, make_run, popen_cli, run_cli

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


def listening(port: int, within: float = 90) -> bool:
    """Whether process 0's coordinator accepts connections on ``port`` within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_processes_that_see_different_run_directories_or_configs_refuse_together(tmp_path):
    port = free_port()
    text = PAINT_CONFIG + TWO_PROCESSES.format(port=port)
    first = make_run(tmp_path / "a", text, num_envs=2)
    other = make_run(tmp_path / "b", text.replace("hidden_sizes = [16]", "hidden_sizes = [32]"), num_envs=2)
    devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    procs = [popen_cli(other, "--process-id", "1", **devices), popen_cli(first, "--process-id", "0", **devices)]
    outputs = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for _, err, code in outputs:
        assert code == 2 and "Traceback" not in err, err[-2000:]
        assert "the processes do not run the same thing" in err
        assert f"process 1: its run directory {other.resolve()} is not the one process 0 uses ({first.resolve()}" in err
        assert "model.hidden_sizes is [32] here, [16] on process 0" in err
    for run in (first, other):
        assert sorted(p.name for p in run.iterdir()) == ["config.toml"]  # nothing trained, the note removed


@pytest.mark.slow
def test_every_wait_for_the_other_processes_is_bounded_and_can_be_stopped(tmp_path):
    port = free_port()
    run = make_run(tmp_path, PAINT_CONFIG + TWO_PROCESSES.format(port=port) + "timeout = 8\n", num_envs=2)
    devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    started = time.monotonic()
    alone = popen_cli(run, "--process-id", "0", **devices)
    assert listening(port)
    twice = run_cli(run, "--process-id", "0", **devices)  # the same number on two machines
    assert twice.returncode == 2 and "Traceback" not in twice.stderr
    assert f"port {port} on this machine is already in use" in twice.stderr and "--process-id 0" in twice.stderr
    out, err = alone.communicate(timeout=120)  # process 1 never comes
    assert alone.returncode == 1 and time.monotonic() - started < 60
    assert "could not join the run's processes at 127.0.0.1" in err and "within 8 s ([distributed] timeout)" in err
    assert "Traceback" not in err and "F1204" not in err and "DEADLINE_EXCEEDED" not in err

    for sig in (signal.SIGINT, signal.SIGTERM):
        port = free_port()
        run = make_run(tmp_path / sig.name, PAINT_CONFIG + TWO_PROCESSES.format(port=port), num_envs=2)
        waiting = popen_cli(run, "--process-id", "0", **devices)
        assert listening(port)
        time.sleep(0.5)
        waiting.send_signal(sig)
        out, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 130, err[-2000:]
        assert "Stopped while waiting for the other processes to join." in err and "Traceback" not in err
        assert not (run / "training.log").exists()


@pytest.mark.slow
def test_a_process_that_stops_ends_the_others_with_one_line(tmp_path):
    run = make_run(tmp_path, PAINT_CONFIG + TWO_PROCESSES.format(port=free_port()) + "timeout = 15\n", num_seeds=2,
                   num_envs=2, training_episodes=1000000)
    devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    other = popen_cli(run, "--process-id", "1", **devices)
    first = popen_cli(run, "--process-id", "0", **devices)
    deadline = time.monotonic() + 120
    while not (run / "training.log").exists() and time.monotonic() < deadline:  # both joined and agreed
        time.sleep(0.2)
    assert (run / "training.log").exists()
    time.sleep(1)
    other.kill()  # kill -9 of the command process 1 was started with: its training goes with it
    out, err = first.communicate(timeout=240)
    other.communicate()
    assert first.returncode == 1
    assert err.rstrip().endswith("error: process 1 stopped; run the same command on every machine to resume "
                                 "(training continues from the newest checkpoint)"), err[-3000:]
    assert "Check failure" not in err and "Traceback" not in err and "F1204" not in err
