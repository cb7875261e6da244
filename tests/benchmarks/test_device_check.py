"""The device check runs end to end on the CPU at tiny sizes, so it still works the day a GPU is lent."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_device_check_dry_run_measures_every_stage(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), str(tmp_path), "--dry-run",
                           "--budget-s", "3000"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "device_check.json").read_text())
    stages = results["stages"]
    assert set(stages) == {"install", "devices", "compiled_games", "reference_semantics", "cnn_update", "seeds",
                           "snake_jax", "host_loop", "larger_batches", "tests"}
    assert {name: e["status"] for name, e in stages.items()} == {name: "ok" for name in stages}
    assert stages["devices"]["result"]["training_log_device_line"].startswith("[INIT] Device: cpu")
    assert stages["compiled_games"]["result"]["8 games, batch 8"]["steps_per_s"] > 0
    assert stages["reference_semantics"]["result"]["update_floor_ms"] > 0
    assert stages["cnn_update"]["result"]["batch 8"] > 0
    assert stages["seeds"]["result"]["2 agents"]["steps_per_s"] > 0
    assert stages["seeds"]["result"]["2 agents, one after another"]["steps_per_s"] > 0
    assert stages["snake_jax"]["result"]["device_line"].startswith("[INIT] Device: cpu")
    assert stages["host_loop"]["result"]["selected"]["steps_per_s"] > 0
    assert stages["host_loop"]["result"]["cpu"]["steps_per_s"] > 0
    assert "3 passed" in stages["tests"]["result"]["summary"]
    table = (tmp_path / "device_check.md").read_text()
    for what in ("compiled snake, 8 games", "reference semantics", "CNN update on nav's shapes", "vmapped seeds",
                 "runs/snake-jax", "host loop", "quick tier"):
        assert what in table
    assert all(e["command"] for e in stages.values())


def test_a_failing_stage_is_recorded_and_the_check_goes_on(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # the script imports its neighbours by name
    import device_check
    check = device_check.Check(tmp_path, budget_s=100, tests_reserve_s=10, only=None)

    def broken():
        raise ValueError("no such kernel")
    check.stage("compiled_games", broken, "cmd A")
    seeds = {"8 agents": {"steps_per_s": 1.0}, "8 agents, one after another": {"steps_per_s": 2.0}}
    check.stage("seeds", lambda: seeds, "cmd B")
    check.budget_s = 0  # out of time: the next measurement is skipped, not started
    check.stage("host_loop", lambda: pytest.fail("must not run"), "cmd C")
    stages = json.loads((tmp_path / "device_check.json").read_text())["stages"]
    assert stages["compiled_games"]["status"] == "failed" and "no such kernel" in stages["compiled_games"]["error"]
    assert stages["seeds"]["status"] == "ok"
    assert stages["host_loop"]["status"] == "skipped"
    table = (tmp_path / "device_check.md").read_text()
    assert "seeds one after another in each chunk, 8 agents x 16 games" in table
    assert "vmapped seeds, 8 agents" in table and "compiled_games: failed" in table and "host_loop: skipped" in table
