import os
import signal

import pytest

from jaxdqn.run.stop import StopRequests


class Quit(Exception):
    pass


@pytest.fixture
def no_exit(monkeypatch):
    def fake_exit(code):
        raise Quit(code)
    monkeypatch.setattr(os, "_exit", fake_exit)


def test_first_signal_only_asks_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT)
    with StopRequests() as stop:
        assert signal.getsignal(signal.SIGINT) != before
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
    assert signal.getsignal(signal.SIGINT) == before


def test_a_second_signal_quits_at_once_saying_where_the_run_continues(no_exit, capfd):
    stop = StopRequests(lambda: "The run continues from ep_0060 next time.")
    stop._handle(signal.SIGINT, None)
    with pytest.raises(Quit) as quit_:
        stop._handle(signal.SIGINT, None)
    assert quit_.value.args == (130,)
    err = capfd.readouterr().err
    assert "Quit without saving this episode. The run continues from ep_0060 next time." in err


def test_a_second_signal_during_a_save_waits_for_it(no_exit, capfd):
    stop = StopRequests(lambda: "The run continues from ep_0065 next time.")
    stop._handle(signal.SIGTERM, None)
    finished = []
    with pytest.raises(Quit):
        with stop.saving():
            stop._handle(signal.SIGTERM, None)  # arrives mid-save: nothing happens yet
            stop._handle(signal.SIGINT, None)
            finished.append(True)  # the save goes on to the end
    assert finished == [True]
    err = capfd.readouterr().err
    assert "quitting as soon as it is complete" in err and "Saved it and stopped" in err
    assert err.count("quitting as soon as it is complete") == 1


def test_a_closed_terminal_asks_for_a_stop_like_ctrl_c():
    before = signal.getsignal(signal.SIGHUP)
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop.requested
    assert signal.getsignal(signal.SIGHUP) == before


def test_two_signals_that_arrive_inside_one_long_call_count_as_two(no_exit):
    """Python runs a handler once for signals that arrive while it is inside one long C call (as the compiled
    loop is inside a chunk): the second Ctrl+C must still quit."""
    import subprocess
    import time

    with StopRequests() as stop:
        killer = subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -INT {os.getpid()}; sleep 0.05; "
                                               f"kill -INT {os.getpid()}"])
        deadline = time.monotonic() + 0.3
        with pytest.raises(Quit):
            while True:
                sum(range(30_000_000))  # one C call, no handler runs inside it
                if time.monotonic() > deadline and killer.poll() is not None:
                    sum(range(1_000))  # the handlers run here at the latest
                    break
        killer.wait()
        assert stop.requested


def test_a_signal_is_heard_while_a_long_native_call_runs():
    import hashlib
    import threading
    import time

    heard, finished = [], []

    class Recording(StopRequests):
        def _one(self, signum):
            heard.append(time.monotonic())
            super()._one(signum)

    def native_call():  # stands for a compiled chunk: one long call into C that never returns to Python
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        hashlib.pbkdf2_hmac("sha256", b"x", b"y", 3_000_000)
        finished.append(time.monotonic())
        return "done"
    with Recording() as stop:
        assert stop.call(native_call) == "done"
        assert stop.requested
    # the handler ran while the call still had most of its second to go (on the main thread itself it would
    # run only once the call returned, microseconds before it is recorded as finished)
    assert heard and finished[0] - heard[0] > 0.2
    with StopRequests() as stop, pytest.raises(ZeroDivisionError):
        stop.call(lambda: 1 / 0)  # errors reach the caller


def test_a_stop_request_while_waiting_to_train_quits_at_once(no_exit, capfd):
    stop = StopRequests(lambda: "The run continues from ep_0040 next time.")
    with pytest.raises(Quit) as quit_:
        with stop.waiting("compiling the training step"):
            stop._handle(signal.SIGTERM, None)
    assert quit_.value.args == (130,)
    assert "Stopped while compiling the training step. The run continues from ep_0040 next time." in \
        capfd.readouterr().err
