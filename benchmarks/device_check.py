"""One command that measures jaxdqn on an accelerator (a CUDA GPU) and writes the results.

    python benchmarks/device_check.py RESULTS_DIR [--wheels DIR] [--budget-s 450] [--only STAGE ...]
    python benchmarks/device_check.py RESULTS_DIR --dry-run        # tiny sizes, any machine (CI runs it on CPU)

In order, each stage timed and bounded so one that fails or runs long never hides the others:

1. ``install``: the wheels in ``--wheels`` (packages the machine lacks, e.g. retro-games, blessed,
   tomlkit) and this project, into a private folder with ``--no-deps``: the machine's jax stays as it is.
2. ``devices``: what JAX sees, the device jaxdqn selects, and the ``[INIT] Device:`` line that
   ``python -m jaxdqn.train`` writes to training.log for a short snake run.
3. The measurements, each with the command line that repeats it alone: the compiled snake at 256 to
   16,384 games (one update per step of all games), the compiled loop with the reference's semantics,
   the CNN update on nav's shapes, seeds (vmapped, and one after another), runs/snake-jax from the
   command to a greedy score on the retro snake, and the host loop on the retro snake.
4. ``tests``: the suite's quick tier (``pytest -m "not slow"``) on the device, with the time left.

RESULTS_DIR gets ``device_check.json`` (everything), ``device_check.md`` (the table) and
``tests.log``. Stages that fail are recorded with their error and the run goes on; the exit
status is 1 when any stage failed, 0 otherwise.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent
SCRIPT = "python benchmarks/device_check.py RESULTS_DIR"

# The reference's CPU figures these are set against (README's benchmark table, 2026-12-02, 2-core CPU).
REFERENCE_CPU = {"steps_per_s": 406.0, "cnn_update_ms": 59.8}
TARGETS = {"compiled_games": 5e6, "reference_semantics": 5_000.0, "cnn_speedup": 20.0}

FULL = {
    "games": [(16_384, 256), (4_096, 256), (1_024, 256), (256, 256)],
    "larger_batches": [(16_384, 4_096), (4_096, 1_024)],
    "hidden_sizes": (128, 64), "seconds": 2.0, "fill": True, "reference_iterations": 2_000,
    "cnn_batches": [64, 256], "cnn_fill": 5_000, "cnn_repeats": 30, "seeds": [8, 64],
    "host_capacity": 5_000, "host_steps": 5_000, "snake_jax_episodes": None,
}
DRY = {
    "games": [(8, 8)], "larger_batches": [], "hidden_sizes": (16,), "seconds": 0.2,
    "fill": False, "reference_iterations": 20, "cnn_batches": [8], "cnn_fill": 100, "cnn_repeats": 3,
    "seeds": [2], "host_capacity": 100, "host_steps": 100, "snake_jax_episodes": 512,
}
STAGES = ("install", "devices", "compiled_games", "reference_semantics", "cnn_update", "seeds", "snake_jax",
          "host_loop", "larger_batches", "tests")


class Check:
    """Runs the stages in order within a time budget and keeps every result, error and command."""

    def __init__(self, out: Path, budget_s: float, tests_reserve_s: float, only: list[str] | None):
        self.out, self.budget_s, self.reserve_s, self.only = out, budget_s, tests_reserve_s, only
        self.start = time.perf_counter()
        self.results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "stages": {}}
        self.env = dict(os.environ)

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)

    def stage(self, name: str, fn, command: str, *, reserve: bool = True) -> None:
        if self.only and name not in self.only:
            return
        entry = {"command": command}
        self.results["stages"][name] = entry
        if reserve and self.left() < self.reserve_s:
            entry.update(status="skipped", error=f"out of time ({self.budget_s:.0f} s budget, "
                                                 f"{self.reserve_s:.0f} s kept for the tests)")
        else:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {name}: {command}", flush=True)
            t0 = time.perf_counter()
            try:
                entry.update(status="ok", result=fn())
            except Exception as error:  # noqa: BLE001 - a failed stage is recorded and the check goes on
                entry.update(status="failed", error=f"{type(error).__name__}: {error}",
                             traceback=traceback.format_exc()[-4000:])
            entry["seconds"] = round(time.perf_counter() - t0, 1)
            print(f"          {entry['status']} in {entry['seconds']} s"
                  + (f": {entry['error']}" if "error" in entry else ""), flush=True)
        self.save()

    def save(self) -> None:
        self.results["seconds"] = round(time.perf_counter() - self.start, 1)
        (self.out / "device_check.json").write_text(json.dumps(self.results, indent=2, default=str))
        (self.out / "device_check.md").write_text(markdown(self.results))


def run(cmd: list[str], env: dict, timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}")
    return proc


def install(check: Check, wheels: str | None) -> dict:
    """Wheels and the project into a private folder, put first on the path of this process and its children."""
    site = Path(tempfile.mkdtemp(prefix="jaxdqn-device-site-"))
    atexit.register(shutil.rmtree, site, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--disable-pip-version-check", "--target", str(site)]
    done = {"site": str(site), "wheels": []}
    if wheels:
        files = sorted(str(p) for p in Path(wheels).glob("*.whl"))
        if files:
            run(pip + files, check.env)
            done["wheels"] = [Path(f).name for f in files]
    try:
        run(pip + ["--no-build-isolation", str(ROOT)], check.env)
        done["project"] = "installed"
    except RuntimeError as error:  # no setuptools there: the source tree serves as well
        done["project"] = f"from the source tree ({str(error)[-200:]})"
    paths = [str(site), str(ROOT)]
    sys.path[:0] = paths
    check.env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [check.env.get("PYTHONPATH")] if p])
    check.env["PATH"] = os.pathsep.join([str(site / "bin"), check.env.get("PATH", "")])
    return done


def devices(check: Check, dry: bool) -> dict:
    import jax

    from jaxdqn.device import select_device
    choice = select_device()
    found = {"jax": jax.__version__, "backend": jax.default_backend(),
             "devices": [f"{d.platform}:{d.device_kind}" for d in jax.devices()], "jaxdqn_selects": choice.description,
             "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "snake"
        run_dir.mkdir()
        text = (ROOT / "runs" / "snake" / "config.toml").read_text()
        text = text.replace("training_episodes = 6000", "training_episodes = 10\ncheckpoint_every = 10")
        (run_dir / "config.toml").write_text(text)
        run([sys.executable, "-m", "jaxdqn.train", str(run_dir)], check.env, timeout=300)
        lines = (run_dir / "training.log").read_text().splitlines()
        found["training_log_device_line"] = next((line for line in lines if "Device:" in line), None)
    if not dry and found["backend"] == "cpu":
        raise RuntimeError(f"JAX sees no accelerator here (devices: {found['devices']}); {found}")
    return found


def measured(r: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items() if k not in ("runner", "agents")}


def compiled_games(p: dict, sizes) -> dict:
    import compiled

    from jaxdqn.core import Settings
    out = {}
    for games, batch in sizes:
        settings = Settings(rows_width=32, num_envs=games, train_every=games, batch_size=batch,
                            memory_capacity=max(50_000, 32 * games), learning_rate=5e-4, learning_rate_decay=1.0,
                            epsilon_decay=0.999, target_update_freq=2000)
        r = compiled.steps_per_second(settings, warm_iterations=50, hidden_sizes=p["hidden_sizes"],
                                      seconds=p["seconds"])
        out[f"{games} games, batch {batch}"] = {**measured(r), "memory_capacity": settings.memory_capacity}
    return out


def reference_semantics(p: dict) -> dict:
    import compiled
    r = compiled.steps_per_second(compiled.REFERENCE, iterations=p["reference_iterations"], fill=p["fill"],
                                  hidden_sizes=p["hidden_sizes"])
    return {**measured(r), "update_floor_ms": compiled.update_floor_ms(r, max(20, p["reference_iterations"] // 2))}


NAV = dict(board_height=25, board_width=25, num_channels=2, num_extras=0, num_actions=3, spatial=True)


def cnn_update(p: dict) -> dict:
    import core
    import numpy as np

    from jaxdqn.core.types import NetworkSpec
    spec = NetworkSpec(hidden_sizes=tuple(p["hidden_sizes"]), **NAV)
    rng = np.random.default_rng(0)
    return {f"batch {b}": core.time_train_step(spec, 50_000, p["cnn_repeats"], p["cnn_fill"], rng, batch_size=b)
            for b in p["cnn_batches"]}


def seeds(p: dict) -> dict:
    """Agents side by side (``vmap``, the trainer's way on an accelerator), and the fewest of them one after
    another in each chunk (its way on a CPU), to see which pays here."""
    import compiled

    def rate(n: int, apart: bool) -> dict:
        return measured(compiled.steps_per_second(compiled.SEEDS, n, warm_iterations=20, seconds=p["seconds"],
                                                  hidden_sizes=p["hidden_sizes"], one_at_a_time=apart))
    out = {f"{n} agents": rate(n, False) for n in p["seeds"]}
    return {**out, f"{p['seeds'][0]} agents, one after another": rate(p["seeds"][0], True)}


def snake_jax(check: Check, p: dict) -> dict:
    """``python -m jaxdqn.train runs/snake-jax`` (no compilation cache), then ``jaxdqn eval -k 100`` on retro's snake."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "snake-jax"
        run_dir.mkdir()
        text = (ROOT / "runs" / "snake-jax" / "config.toml").read_text()
        if p["snake_jax_episodes"]:
            text = (text.replace("training_episodes = 60000", f"training_episodes = {p['snake_jax_episodes']}")
                    .replace("checkpoint_every = 5000", f"checkpoint_every = {p['snake_jax_episodes']}")
                    .replace("hidden_sizes = [128, 64]", f"hidden_sizes = {list(p['hidden_sizes'])}"))
        (run_dir / "config.toml").write_text(text)
        env = {**check.env, "JAXDQN_COMPILATION_CACHE": "0"}
        t0 = time.perf_counter()
        run([sys.executable, "-m", "jaxdqn.train", str(run_dir)], env, timeout=max(60.0, check.left()))
        seconds = time.perf_counter() - t0
        episodes = 10 if p["snake_jax_episodes"] else 100
        out = run([sys.executable, "-m", "jaxdqn.cli", "eval", str(run_dir), "-k", str(episodes), "--seed", "0",
                   "--json"], env, timeout=300).stdout
        log = (run_dir / "training.log").read_text().splitlines()
    return {"seconds_to_last_checkpoint": round(seconds, 1), "greedy_episodes": episodes,
            "greedy_retro_mean": json.loads(out)["episode_reward"]["mean"],
            "device_line": next((line for line in log if "Device:" in line), None)}


def host_loop(p: dict) -> dict:
    """The host loop on the device jaxdqn selects, then on this machine's CPU (``JAXDQN_DEVICE=cpu``)."""
    import throughput
    out = {"selected": throughput.end_to_end(p["host_capacity"], p["host_steps"])}
    before = os.environ.get("JAXDQN_DEVICE")
    os.environ["JAXDQN_DEVICE"] = "cpu"
    try:
        out["cpu"] = throughput.end_to_end(p["host_capacity"], p["host_steps"])
    finally:
        os.environ.pop("JAXDQN_DEVICE") if before is None else os.environ.update(JAXDQN_DEVICE=before)
    return out


def tests(check: Check, dry: bool, log: Path) -> dict:
    """The quick tier on the device (the suite's conftest keeps the CPU only when JAX_PLATFORMS is unset)."""
    env = {**check.env, "JAX_PLATFORMS": check.env.get("JAX_PLATFORMS", "")}
    selection = ["tests/test_device.py"] if dry else ["-m", "not slow"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=--import-mode=importlib",
           *selection]
    timeout = max(30.0, check.left())
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        text, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as expired:
        text, code = ((expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes)
                      else (expired.stdout or "")) + f"\n[stopped after {timeout:.0f} s]", "timeout"
    log.write_text(text)
    lines = [line for line in text.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " passed" in line or " failed" in line or "error" in line),
                   lines[-1] if lines else "")
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    result = {"exit": code, "summary": summary.strip("= "), "failed": failed, "log": log.name}
    if code not in (0,):
        raise RuntimeError(f"tests: {result['summary']} ({len(failed)} failed or errored; see {log.name})")
    return result


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3f}"


def markdown(results: dict) -> str:
    """The table: one row per measurement, with its command, value and target."""
    st = results["stages"]
    dev = st.get("devices", {}).get("result", {})
    lines = [f"# jaxdqn device check, {results['started']}", "",
             f"jax {dev.get('jax', '?')}, backend {dev.get('backend', '?')}, devices {dev.get('devices', '?')}; "
             f"jaxdqn selects: {dev.get('jaxdqn_selects', '?')}", "",
             f"training.log: `{dev.get('training_log_device_line')}`", "",
             "| what | value | target | command |", "|---|---|---|---|"]

    def row(what, value, target, stage):
        lines.append(f"| {what} | {value} | {target} | `{st[stage]['command']}` |")

    for stage in ("compiled_games", "larger_batches"):
        for what, r in (st.get(stage, {}).get("result") or {}).items():
            row(f"compiled snake, {what}, 1 update per step of all games, steps/s", _rate(r["steps_per_s"]),
                f">= {TARGETS['compiled_games']:,.0f}", stage)
    r = st.get("reference_semantics", {}).get("result")
    if r:
        row("compiled, reference semantics (1 game, batch 64, 1 update / 4 steps), steps/s "
            f"(ms per iteration / update alone: {r['ms_per_iteration']:.3f} / {r['update_floor_ms']:.3f})",
            _rate(r["steps_per_s"]), f">= {TARGETS['reference_semantics']:,.0f}", "reference_semantics")
    for what, ms in (st.get("cnn_update", {}).get("result") or {}).items():
        speedup = REFERENCE_CPU["cnn_update_ms"] / ms
        row(f"CNN update on nav's shapes (25x25, 2 channels), {what}, ms (sample + learn + priorities)",
            f"{ms:.3f}" + (f" ({speedup:.0f}x the CPU reference's 59.8 at batch 64)" if what == "batch 64" else ""),
            f">= {TARGETS['cnn_speedup']:.0f}x the reference" if what == "batch 64" else "", "cnn_update")
    for what, r in (st.get("seeds", {}).get("result") or {}).items():
        agents, _, apart = what.partition(", ")
        row(f"{'seeds ' + apart + ' in each chunk' if apart else 'vmapped seeds'}, {agents} x 16 games, 1 update "
            "of 128 / 16 transitions, steps/s (all agents)", _rate(r["steps_per_s"]), "", "seeds")
    r = st.get("snake_jax", {}).get("result")
    if r:
        row(f"runs/snake-jax, command to last checkpoint (compile included), s; greedy on the retro snake "
            f"({r['greedy_episodes']} games)", f"{r['seconds_to_last_checkpoint']} s; {r['greedy_retro_mean']:+.1f}",
            "+100", "snake_jax")
    r = st.get("host_loop", {}).get("result")
    if r:
        row("host loop, retro snake, defaults but a 5k buffer, steps/s once full: on the selected device / on "
            "this machine's CPU", f"{_rate(r['selected']['steps_per_s'])} / {_rate(r['cpu']['steps_per_s'])}",
            f"reference {REFERENCE_CPU['steps_per_s']:.0f} (CPU)", "host_loop")
    r = st.get("tests")
    if r:
        value = (r.get("result") or {}).get("summary") or r.get("error", "")
        lines.append(f"| quick tier of the tests on the device | {value} | all pass | `{r['command']}` |")
    problems = [f"- {name}: {e['status']}: {e.get('error', '')}" for name, e in st.items() if e["status"] != "ok"]
    if problems:
        lines += ["", "Stages that did not finish:", *problems]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="folder for device_check.json, device_check.md and tests.log")
    parser.add_argument("--wheels", help="a folder of wheels to install first (--no-deps), e.g. .whl")
    parser.add_argument("--budget-s", type=float, default=450.0, help="seconds for the whole check (default 450)")
    parser.add_argument("--tests-reserve-s", type=float, default=120.0,
                        help="seconds kept for the tests: no measurement starts after the budget less this")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on any device, to check the script")
    parser.add_argument("--only", nargs="+", choices=STAGES, help="run only these stages (install and devices "
                                                                  "always run)")
    args = parser.parse_args(argv)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # children share the device with this process
    sys.path.insert(0, str(HERE))
    only = args.only and ["install", "devices", *args.only]
    check = Check(out, args.budget_s, args.tests_reserve_s, only)
    check.results["dry_run"] = args.dry_run
    p = DRY if args.dry_run else FULL
    flags = " --dry-run" if args.dry_run else ""

    def cmd(stage: str) -> str:
        return f"{SCRIPT} --only {stage}{flags}"

    check.stage("install", lambda: install(check, args.wheels), f"{SCRIPT} --wheels DIR", reserve=False)
    check.stage("devices", lambda: devices(check, args.dry_run), "python -m jaxdqn.train RUN (10 episodes of snake)",
                reserve=False)
    check.stage("compiled_games", lambda: compiled_games(p, p["games"]), cmd("compiled_games"))
    check.stage("reference_semantics", lambda: reference_semantics(p), cmd("reference_semantics"))
    check.stage("cnn_update", lambda: cnn_update(p), cmd("cnn_update"))
    check.stage("seeds", lambda: seeds(p), cmd("seeds"))
    check.stage("snake_jax", lambda: snake_jax(check, p),
                "python -m jaxdqn.train runs/snake-jax && jaxdqn eval runs/snake-jax -k 100 --seed 0")
    check.stage("host_loop", lambda: host_loop(p), cmd("host_loop"))
    check.stage("larger_batches", lambda: compiled_games(p, p["larger_batches"]), cmd("larger_batches"))
    check.stage("tests", lambda: tests(check, args.dry_run, out / "tests.log"),
                "python -m pytest -m 'not slow'" if not args.dry_run else "python -m pytest tests/test_device.py",
                reserve=False)
    print(markdown(check.results), flush=True)
    return 1 if any(e["status"] == "failed" for e in check.results["stages"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
