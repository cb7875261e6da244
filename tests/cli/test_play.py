import subprocess
import sys

import pytest

from tests.support.runs import env


def test_play_headless(trained_run, cli):
    code, out, err = cli("play", trained_run, "--headless", "--turns", "5")
    assert code == 0, err
    assert "ep_0020: played 5 turns" in out
    code, out, _ = cli("play", trained_run, "--headless", "--checkpoint", "ep_0010")
    assert "ep_0010: played 12 turns" in out and "game over" in out


def _play_in_pty(run, framerate, keys_after=None):
    """Run `jaxdqn play` in a 100x30 pseudo-terminal; optionally type keys after a delay. Returns (code, text)."""
    import fcntl
    import os
    import select
    import struct
    import termios
    import time

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "jaxdqn.cli", "play", str(run), "--framerate", str(framerate)],
                            stdin=slave, stdout=slave, stderr=slave, env={**env(), "TERM": "xterm-256color"})
    os.close(slave)
    output, typed, acknowledged = b"", False, False
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if keys_after and not typed and b"Playing" in output:
                time.sleep(keys_after[0])
                os.write(master, keys_after[1])
                typed = True
            if not acknowledged and b"press any key" in output:
                os.write(master, b"x")  # the last frame waits for a key
                acknowledged = True
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=60)
        os.close(master)
    return proc.returncode, output.decode(errors="replace")


@pytest.mark.slow
def test_play_in_a_pseudo_terminal(trained_run):
    code, text = _play_in_pty(trained_run, 200)
    assert code == 0, text[-2000:]
    assert "Loading ep_0020" in text and "Playing ep_0020" in text and "12 turns; points =" in text
    assert "ep_0020  turn 12  action " in text  # the status line under the board
    assert "game over after 12 turns" in text and "press any key" in text  # the last frame waits


@pytest.mark.slow
def test_play_quits_on_enter(trained_run):
    code, text = _play_in_pty(trained_run, 4, keys_after=(1.0, b"\r"))  # 12 turns would take 3 s
    assert code == 0, text[-2000:]
    import re
    turns = int(re.findall(r"(\d+) turns; points =", text)[-1])
    assert turns < 12
