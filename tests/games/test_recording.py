"""Recordings of a trained agent: asciinema casts whose frames are the game's boards, turn by turn."""
import json

from jaxdqn.cli import main


def read_cast(path):
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def replayed_boards(actions):
    """The tinygame's boards (as the recording draws them) after each of ``actions``, replayed from scratch."""
    from jaxdqn.games.encoding import start_game
    from jaxdqn.games.recording import board_text
    from tests.support.games.tinygame.tinygame import build
    game = start_game(build)
    boards = [board_text(game)]
    for name in actions:
        game.input_source.press(None if name == "no-op" else name)
        game.step()
        boards.append(board_text(game))
    return boards


def test_play_records_every_frame_of_the_game(trained_run, tmp_path, capsys):
    cast = tmp_path / "agent.cast"
    assert main(["play", str(trained_run), "--headless", "--record", str(cast), "--framerate", "4"]) == 0
    assert "Recorded 13 frames" in capsys.readouterr().out  # the start and the game's 12 turns
    header, events = read_cast(cast)
    assert header["version"] == 2 and header["width"] >= 8 and header["height"] >= 7
    assert [e[0] for e in events] == [i / 4 for i in range(13)] and {e[1] for e in events} == {"o"}
    screens = [e[2].split("\x1b[2J", 1)[1].split("\r\n") for e in events]
    actions = [screen[-1].split("action ")[1].split()[0] for screen in screens[1:]]
    assert [screen[:-1] for screen in screens] == replayed_boards(actions)
    assert screens[-1][-1].startswith("ep_0020  turn 12  action ") and "points = " in screens[-1][-1]
    assert main(["play", str(trained_run), "--headless", "--record", str(cast)]) == 2  # never overwritten
    assert "never overwritten" in capsys.readouterr().err


def test_eval_records_each_episode(trained_run, tmp_path, capsys):
    folder = tmp_path / "casts"
    assert main(["eval", str(trained_run), "-k", "2", "--record", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["ep_0001.cast", "ep_0002.cast"]
    header, events = read_cast(folder / "ep_0002.cast")
    assert "greedy episode 2" in header["title"] and len(events) == 13
    assert main(["eval", str(trained_run), "-k", "1", "--record", str(folder)]) == 2
