"""Time to a good agent: jaxdqn's shipped JAX runs against the PyTorch reference's default training.

    python benchmarks/time_to_agent.py reference GAME [--minutes 20] [--reference-python PATH] --out DIR
    python benchmarks/time_to_agent.py jaxdqn GAME [--seconds 120] --out DIR
    python benchmarks/time_to_agent.py report DIR

``reference`` makes a run directory with the reference's own ``retro-gamer init`` (its defaults:
the CNN for nav and beast; for snake, which has no metadata of its own, its actions, reward and
``observe_state = ["apple_dx", "apple_dy"]``, as jaxdqn's known-game metadata has them), trains it
with ``retro-gamer train`` for ``--minutes`` of wall time
(stopped with Ctrl+C; the reference saves a checkpoint every 100 episodes), then plays its newest
checkpoint greedily on 100 retro games (its own ``TrainedPolicy``, as its ``play`` does), each cut at
2,000 turns. ``jaxdqn`` copies ``runs/GAME-jax`` (snake, nav, beast), keeps all its checkpoints, runs ``python -m jaxdqn.train`` for ``--seconds`` of wall time (compile
included), then plays every checkpoint greedily on the same 100 retro games (``jaxdqn eval``'s
evaluation, seed 0): each checkpoint's time is its file's time from the command's start. ``report``
prints, per game, the reference's score, the first checkpoint of jaxdqn's that reaches it and when,
and jaxdqn's score at 2 minutes. Run the sides one at a time on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from common import print_table, reference_python  # noqa: E402

RETRO = {"snake": "retro.examples.snake", "nav": "retro.examples.nav", "beast": "retro.examples.beast"}
EPISODES, SEED = 100, 0
SNAKE_REFERENCE_CONFIG = """[game]
module = "retro.examples.snake"

[metadata]
actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
reward = "reward"

[preprocessing]
observe_state = ["apple_dx", "apple_dy"]

[training]
"""


def run_for(command: list[str], seconds: float, cwd=None) -> float:
    """Run ``command`` for ``seconds`` of wall time, then Ctrl+C it (it saves and stops), or end it when
    it does not stop (a process started in the background may ignore Ctrl+C); its start time."""
    started = time.time()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()
    return started


def within(checkpoints, started: float, seconds: float) -> list[Path]:
    """The checkpoints written within ``seconds`` of ``started``, oldest first."""
    return sorted((c for c in checkpoints if c.stat().st_mtime - started <= seconds), key=lambda c: c.stat().st_mtime)


def reference(game: str, minutes: float, python: str, out: Path) -> dict:
    run_dir = out / f"reference-{game}"
    shutil.rmtree(run_dir, ignore_errors=True)
    retro_gamer = str(Path(python).parent / "retro-gamer")
    if game == "snake":  # retro's snake has no pyproject metadata, which init needs: its settings as jaxdqn's
        run_dir.mkdir(parents=True)
        (run_dir / "config.toml").write_text(SNAKE_REFERENCE_CONFIG)
    else:
        subprocess.run([retro_gamer, "init", RETRO[game], str(run_dir)], check=True, stdout=subprocess.DEVNULL)
    started = run_for([retro_gamer, "train", str(run_dir)], minutes * 60)
    checkpoints = within((run_dir / "checkpoints").glob("*.pt"), started, minutes * 60)
    if not checkpoints:
        return {"game": game, "minutes": minutes, "checkpoint": None, "score": None}
    probe = subprocess.run([python, str(HERE / "reference_probe.py"), "greedy",
                            json.dumps({"run_dir": str(run_dir), "checkpoint": checkpoints[-1].name,
                                        "episodes": EPISODES, "seed": SEED})],
                           check=True, capture_output=True, text=True, cwd=HERE)
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    return {"game": game, "minutes": minutes, "checkpoint": checkpoints[-1].name, "score": result["mean"],
            "log": [line for line in (run_dir / "training.log").read_text().splitlines() if line.startswith("[ep")]}


def jaxdqn_side(game: str, seconds: float, out: Path) -> dict:
    from jaxdqn.cli.evaluate import evaluate
    from jaxdqn.config.writing import set_value

    run_dir = out / f"jaxdqn-{game}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copy(ROOT / "runs" / f"{game}-jax" / "config.toml", run_dir / "config.toml")
    set_value(run_dir / "config.toml", "training.keep_checkpoints", 10_000)
    started = run_for([sys.executable, "-m", "jaxdqn.train", str(run_dir)], seconds)
    rows = []
    saved = [c for c in (run_dir / "checkpoints").glob("ep_*") if not c.name.endswith("tmp")]
    for checkpoint in within(saved, started, float("inf")):
        at = checkpoint.stat().st_mtime - started
        result = evaluate(run_dir, EPISODES, checkpoint=checkpoint.name, seed=SEED)
        rows.append({"checkpoint": checkpoint.name, "seconds": at, "score": result["episode_reward"]["mean"]})
    return {"game": game, "seconds": seconds, "checkpoints": rows}


def report(out: Path) -> None:
    rows = []
    for game in RETRO:
        ref_file, ours_file = out / f"reference-{game}.json", out / f"jaxdqn-{game}.json"
        if not ref_file.exists() or not ours_file.exists():
            continue
        ref, ours = json.loads(ref_file.read_text()), json.loads(ours_file.read_text())
        ours["checkpoints"].sort(key=lambda c: c["seconds"])
        target = ref["score"]
        reached = next((c for c in ours["checkpoints"] if target is not None and c["score"] >= target), None)
        early = [c for c in ours["checkpoints"] if c["seconds"] <= 120]
        best = max(early, key=lambda c: c["score"]) if early else None
        rows.append((game, f"{target:+.1f} ({ref['checkpoint']}, {ref['minutes']:g} min)" if target is not None
                     else "no checkpoint", f"{reached['seconds']:.0f} s ({reached['checkpoint']}, "
                     f"{reached['score']:+.1f})" if reached else "not reached",
                     f"{early[-1]['score']:+.1f} (best {best['score']:+.1f})" if early else "-"))
    print_table(rows, ("game", "reference greedy after its training", "jaxdqn reaches it at",
                       "jaxdqn at 2 min (last checkpoint)"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="side", required=True)
    ref = sub.add_parser("reference")
    ref.add_argument("game", choices=sorted(RETRO))
    ref.add_argument("--minutes", type=float, default=20)
    ref.add_argument("--reference-python", default=None)
    ref.add_argument("--out", type=Path, required=True)
    ours = sub.add_parser("jaxdqn")
    ours.add_argument("game", choices=sorted(RETRO))
    ours.add_argument("--seconds", type=float, default=120)
    ours.add_argument("--out", type=Path, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.side == "report":
        return report(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.side == "reference":
        python = reference_python(args.reference_python)
        if python is None:
            raise SystemExit("no reference Python: pass --reference-python (one with torch and retro-gamer 0.4.0)")
        result = reference(args.game, args.minutes, python, args.out)
    else:
        result = jaxdqn_side(args.game, args.seconds, args.out)
    (args.out / f"{args.side}-{args.game}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "log"}, indent=2))


if __name__ == "__main__":
    main()
