"""Every Python block in the README runs as written (each in a fresh interpreter, in a directory
where ``runs/snake`` holds a short trained run, as after the quick start)."""
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.runs import REPO, env, run_cli

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    run = work / "runs" / "snake"
    run.mkdir(parents=True)
    text = (REPO / "runs" / "snake" / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace("training_episodes = 6000",
                                                  "training_episodes = 10\ncheckpoint_every = 10"))
    done = run_cli(run)
    assert done.returncode == 0, done.stderr[-2000:]
    yield work
    shutil.rmtree(work, ignore_errors=True)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_block_runs(block, workdir):
    done = subprocess.run([sys.executable, "-c", block], cwd=workdir, capture_output=True, text=True, timeout=300,
                          env=env(), stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{block}\n---\n{done.stderr[-3000:]}"
