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


def test_a_lock_removed_by_its_holder_is_never_held_twice(tmp_path, monkeypatch):
    holder = RunLock(tmp_path).acquire()
    opened = os.open

    def racing(path, *args):  # the taker opens the old file, then the holder removes it and lets go
        fd = opened(path, *args)
        if str(path).endswith(LOCK_NAME) and holder._fd is not None:
            holder.release(remove=True)
        return fd
    monkeypatch.setattr(os, "open", racing)
    taker = RunLock(tmp_path).acquire()
    monkeypatch.undo()
    assert (tmp_path / LOCK_NAME).exists()
    with pytest.raises(RunLocked):  # the file in the directory is the one the taker holds
        RunLock(tmp_path).acquire()
    taker.release(remove=True)
    assert not (tmp_path / LOCK_NAME).exists()
