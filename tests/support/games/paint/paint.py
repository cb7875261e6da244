"""A tiny retro game for the tests: walk a cursor over an 8 x 8 board, painting every cell it visits.

+1 for each new cell painted; the game ends after 40 turns. The board fills up, so an MLP's row
lists must widen while training (what the compiled loop has to handle). ``paint_jax`` is the same
game written in JAX.
"""
from retro.game import Game

SIZE = 8
TURNS = 40
MOVES = {"KEY_RIGHT": (1, 0), "KEY_UP": (0, -1), "KEY_LEFT": (-1, 0), "KEY_DOWN": (0, 1)}


class Cursor:
    name = "cursor"
    character = "@"
    z = 1

    def __init__(self, position):
        self.position = position

    def handle_keystroke(self, keystroke, game):
        dx, dy = MOVES.get(keystroke.name, (0, 0))
        x, y = self.position
        if game.on_board((x + dx, y + dy)):
            self.position = (x + dx, y + dy)

    def play_turn(self, game):
        game.state["turns"] += 1
        if self.position not in game.painted:
            game.painted.add(self.position)
            game.add_agent(Paint(self.position))
            game.state["score"] += 1
        if game.state["turns"] >= TURNS:
            game.end()


class Paint:
    character = "#"

    def __init__(self, position):
        self.position = position


def create_game(start=(3, 4)):
    game = Game([Cursor(start)], {"score": 0, "turns": 0}, board_size=(SIZE, SIZE))
    game.painted = set()
    return game
