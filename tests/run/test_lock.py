import os
import subprocess
import sys

import pytest

from jaxdqn.run.lock import LOCK_NAME, RunLock, RunLocked


def test_one_holder_at_a_time_and_the_refusal_names_it(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunLocked, match=rf"in use.*pid {os.getpid()} on .*since .*Wait for it to finish"):
        RunLock(tmp_path).acquire()
    first.release()
    with RunLock(tmp_path):
        with pytest.raises(RunLocked):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # the with block released it


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    # a process that takes the lock and is killed without releasing it
    code = (f"import os, sys; sys.path.insert(0, {os.getcwd()!r}); from jaxdqn.run.lock import RunLock; "
            f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); os.kill(os.getpid(), 9)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "held" and result.returncode == -9
    assert (tmp_path / LOCK_NAME).read_text().split()[0] != str(os.getpid())  # its pid is still written
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())
