"""The parent process of one process of a multi-machine run: output passed through, native aborts said in one line."""
import os
import subprocess
import sys
import threading

from jaxdqn.cli.supervisor import describe_native_fatal, wants_supervisor

PEER = ("F1204 16:56:58.374184   21740 client.h:80] Terminating process because the JAX distributed service detected "
        "fatal errors. This most likely indicates that another task died; see the other task logs for more details. "
        "absl::Status: UNAVAILABLE: The following tasks are unhealthy (stopped sending heartbeats):\n1\nThe tasks have "
        "crashed.\n*** Check failure stack trace: ***\n    @     0x7fce6aa40634  absl::log_internal::LogMessage\n")
COORDINATOR = ("F1204 17:09:07.147687   22753 client.h:80] Terminating process because the JAX distributed service "
               "detected fatal errors. This most likely indicates that another task died; see the other task logs for "
               "more details. absl::Status: UNAVAILABLE: Failed to send RPC to coordination service. Either the leader "
               "task was preempted/died/restarted unexpectedly or this task is experiencing network issues.\n"
               ':UNKNOWN:Error received from peer  {grpc_status:14, grpc_message:"Socket closed"}\n')


def test_the_process_that_stopped_is_named():
    resume = "run the same command on every machine to resume (training continues from the newest checkpoint)"
    assert describe_native_fatal(PEER, 0) == f"process 1 stopped; {resume}"
    assert describe_native_fatal(COORDINATOR, 1) == f"process 0 (the coordinator) stopped or cannot be reached; {resume}"
    other = describe_native_fatal("F1204 10:00:00.000001   1 cpu.cc:9] Check failed: x == y\n", 0)
    assert other.startswith("JAX's runtime stopped this process: Check failed: x == y.")


def test_output_passes_through_until_a_native_fatal_line(tmp_path):
    read, write = os.pipe()
    progress = b"\r  1%| 5/100 [00:01<00:19]\r  2%| 7/100 [00:01<00:19]"

    def child():
        for part in (b"Training; press Ctrl+C\n", progress, b"\nFirst", b" words\n", PEER.encode()[:30],
                     PEER.encode()[30:]):
            os.write(write, part)
        os.close(write)
    writer = threading.Thread(target=child)
    script = ("import sys, os; sys.path.insert(0, os.environ['REPO']); from jaxdqn.cli.supervisor import _pass_through;"
              "kept = _pass_through(0); open(os.environ['KEPT'], 'wb').write(kept or b'')")
    kept = tmp_path / "kept"
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=read, stderr=subprocess.PIPE,
                            env={**os.environ, "REPO": os.getcwd(), "KEPT": str(kept)})
    os.close(read)
    writer.start()
    writer.join()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert err == b"Training; press Ctrl+C\n" + progress + b"\nFirst words\n"
    assert kept.read_bytes() == PEER.encode()


def test_only_a_run_with_a_coordinator_is_supervised(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXDQN_SUPERVISED", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[distributed]\ncoordinator = "127.0.0.1:1234"\nnum_processes = 2\n')
    assert wants_supervisor(config)
    monkeypatch.setenv("JAXDQN_SUPERVISED", "1")
    assert not wants_supervisor(config)  # the child itself trains
    monkeypatch.delenv("JAXDQN_SUPERVISED")
    config.write_text("[training]\nseed = 1\n")
    assert not wants_supervisor(config)
    config.write_text('[distributed]\ncoordinator = "127.0.0.1:1234"\n')
    assert not wants_supervisor(config)  # invalid: the normal path names num_processes
    config.write_bytes(b"\xff not toml")
    assert not wants_supervisor(config)  # left to the normal path, which names the problem
    assert not wants_supervisor(tmp_path / "missing.toml")
