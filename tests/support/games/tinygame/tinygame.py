"""A tiny deterministic game for the test suite.

It exercises what real games do that the examples don't all do: a custom factory name,
a multi-cell agent (``size``), an agent that is never drawn (``display = False``), and a
tuple-valued state entry set after the game is created (retro-games rejects tuples in
the initial state).
"""
from retro.game import Game

WIDTH, HEIGHT = 6, 4
TURNS = 12


class Player:
    name = "player"
    character = "P"

    def __init__(self):
        self.position = (2, 3)

    def handle_keystroke(self, keystroke, game):
        x, y = self.position
        dx = {"KEY_LEFT": -1, "KEY_RIGHT": 1}.get(keystroke.name, 0)
        if game.on_board((x + dx, y)):
            self.position = (x + dx, y)
            game.state["points"] += 1 if dx > 0 else -1
        game.state["where"] = self.position


class Crate:
    """Two cells wide, two tall; its bottom-right cell is blank."""
    name = "crate"
    character = ("AB", "C")
    size = (2, 2)
    z = 1

    def __init__(self):
        self.position = (0, 0)


class Clock:
    """Never drawn; ends the game after TURNS turns."""
    name = "clock"
    display = False

    def play_turn(self, game):
        game.state["ticks"] += 1
        if game.state["ticks"] >= TURNS:
            game.end()


def build():
    game = Game([Player(), Crate(), Clock()], {"points": 0, "ticks": 0, "label": "tiny"},
                board_size=(WIDTH, HEIGHT))
    game.state["where"] = (2, 3)  # tuples are fine once the game exists
    return game
