"""``jaxdqn play RUN_DIR``: watch the trained agent play in the terminal (or headless)."""
from __future__ import annotations

import sys
from pathlib import Path

from jaxdqn.cli import AGENT_HELP, RUN_DIR_HELP, RUNS_GAME_CODE
from jaxdqn.errors import JaxdqnError

QUIT_KEYS = ("KEY_ESCAPE", "KEY_ENTER")


def add_parser(sub) -> None:
    p = sub.add_parser("play", help="watch the trained agent play in the terminal",
                       description="The agent plays greedily in the terminal, with the turn, the checkpoint and "
                                   "its chosen action under the board; Escape or Enter quits, and the last frame "
                                   "stays until a key is pressed. " + RUNS_GAME_CODE)
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--checkpoint", metavar="NAME", help="e.g. ep_0100 (default: the newest)")
    p.add_argument("--framerate", type=int, default=12, metavar="N", help="turns per second [12]")
    p.add_argument("--turns", type=int, default=None, metavar="N",
                   help="stop after N turns (the last frame then shows for two seconds)")
    p.add_argument("--agent", type=int, default=0, metavar="N", help=AGENT_HELP)
    p.add_argument("--headless", action="store_true", help="play without a terminal and print the result")
    p.add_argument("--record", metavar="FILE",
                   help="also write the game as an asciinema cast (replay it with: asciinema play FILE)")
    p.set_defaults(func=run)


def run(args) -> int:
    from jaxdqn.run.checkpoints import Checkpoints, checkpoint_name

    if args.framerate <= 0:
        raise JaxdqnError(f"--framerate {args.framerate}: give a positive number of turns per second")
    if args.record and Path(args.record).exists():
        raise JaxdqnError(f"--record {args.record}: that file exists and is never overwritten; give a new name")
    terminal = None
    if not args.headless:
        from blessed import Terminal
        terminal = Terminal()
        if not terminal.is_a_tty:
            raise JaxdqnError("jaxdqn play needs a terminal; use --headless to play without one.")
    name = checkpoint_name(Checkpoints(f"{args.run_dir}/checkpoints").resolve(args.checkpoint))
    print(f"Loading {name} from {args.run_dir}...", flush=True)
    from jaxdqn.policy import TrainedPolicy
    policy = TrainedPolicy(args.run_dir, name, args.agent)
    recorder = None
    if args.record:
        from jaxdqn.games.recording import CastRecorder
        recorder = CastRecorder(f"{policy.config.game['module']}, {policy.checkpoint}, greedy", args.framerate)
    if args.headless:
        outcome = _play_headless(policy, args.turns, recorder)
        print(f"{policy.checkpoint}: played {outcome.turns} turns; {policy.metadata.reward} = "
              f"{outcome.final_value:g}; {'game over' if outcome.game_over else 'still playing'}")
    else:
        _play_in_terminal(terminal, policy, args.framerate, args.turns, recorder)
    if recorder is not None:
        print(f"Recorded {len(recorder.frames)} frames to {recorder.write(args.record)}")
    return 0


def _play_headless(policy, max_turns: int | None, recorder):
    if recorder is None:
        from jaxdqn.games.episodes import run_episode
        return run_episode(policy.env(), policy.greedy, max_turns)
    from jaxdqn.games.recording import record_episode
    return record_episode(policy.env(), policy.greedy, recorder, max_turns, label=policy.checkpoint)


def _play_in_terminal(terminal, policy, framerate: int, max_turns: int | None, recorder=None) -> None:
    from time import perf_counter, sleep

    from retro.views.terminal import TerminalView

    from jaxdqn.games.episodes import run_episode
    from jaxdqn.games.recording import status_line

    env = policy.env()
    view: dict = {}
    quit_early = []
    names = [*policy.metadata.actions, "no-op"]

    def status(text: str) -> None:
        """One line under the board and its state pane."""
        game, board_view = view["game"], view["view"]
        x, y = board_view.get_view_origin_coords(game)
        row = min(terminal.height - 1, y + game.view_size[1] + board_view.state_height(game) + 2)
        print(terminal.move_xy(max(0, x - 1), row) + terminal.clear_eol + text, end="", flush=True)

    def on_start(game) -> None:
        game.view = view["view"] = TerminalView(terminal, color=getattr(game, "color", "white_on_black"))
        view["game"] = game
        game.view.on_game_start(game)
        view["started"] = perf_counter()
        if recorder is not None:
            recorder.frame(game, status_line(policy.checkpoint, 0, game, policy.metadata.reward))

    def on_turn(turn: int, action: int, reward: float) -> bool:
        status(f"{policy.checkpoint}  turn {turn}  action {names[action]}  reward {reward:+g}  "
               f"(Escape or Enter quits)")
        if recorder is not None:
            recorder.frame(view["game"], status_line(policy.checkpoint, turn, view["game"], policy.metadata.reward,
                                                     names[action], reward))
        key = terminal.inkey(0)
        if key and key.name in QUIT_KEYS:
            quit_early.append(True)
            return True
        sleep(max(0.0, 1 / framerate - (perf_counter() - view["started"])))
        view["started"] = perf_counter()
        return False

    print(f"Playing {policy.checkpoint} (Escape or Enter quits)...", flush=True)
    with terminal.fullscreen(), terminal.hidden_cursor(), terminal.cbreak():
        outcome = run_episode(env, policy.greedy, max_turns, on_turn=on_turn, on_start=on_start)
        ending = "game over" if outcome.game_over else ("stopped" if quit_early else f"{outcome.turns} turns played")
        result = (f"{policy.checkpoint}: {ending} after {outcome.turns} turns; {policy.metadata.reward} = "
                  f"{outcome.final_value:g}")
        if not quit_early:
            if max_turns is not None and not outcome.game_over:
                status(result)
                sleep(2)
            else:
                status(result + "  (press any key)")
                terminal.inkey()
    print(f"{outcome.turns} turns; {policy.metadata.reward} = {outcome.final_value:g}")
    sys.stdout.flush()
