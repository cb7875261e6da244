"""The port checker: right ports pass, deliberately broken ones fail, and the command says so."""
import pytest

from jaxdqn.cli import main
from jaxdqn.games.port_check import check_port
from jaxdqn.jaxgames import beast, nav, snake
from tests.support import broken_ports


@pytest.mark.slow
@pytest.mark.parametrize("game", [snake.JAX_GAME, nav.JAX_GAME])
def test_the_shipped_ports_pass(game):
    verdict = check_port(game, episodes=150, seed=1)
    assert verdict.passed, "\n".join(verdict.differences)


@pytest.mark.slow
def test_the_beast_port_passes():
    verdict = check_port(beast.JAX_GAME, episodes=150, seed=1)
    assert verdict.passed, "\n".join(verdict.differences)


@pytest.mark.slow
@pytest.mark.parametrize("game, caught", [
    (broken_ports.WRONG_REWARD, "mean episode return"),
    (broken_ports.MISSING_RULE, "mean episode length"),
    (broken_ports.OFF_BY_ONE, "first observation: mean column of '^'"),
])
def test_broken_ports_fail_naming_what_differs(game, caught):
    verdict = check_port(game, episodes=150, seed=1)
    assert not verdict.passed
    assert any(caught in line for line in verdict.differences), "\n".join(verdict.lines)


@pytest.mark.slow
def test_the_command_prints_a_verdict_and_its_exit_status(capsys):
    assert main(["check-port", "jaxdqn.jaxgames.nav", "--episodes", "60"]) == 0
    out = capsys.readouterr().out
    assert "PASS: nav behaves like retro.examples.nav" in out and "60 JAX and 60 retro episodes" in out
    assert main(["check-port", "tests.support.broken_ports_off_by_one", "--episodes", "60"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: nav, ship one off differs from retro.examples.nav" in out and "mean column of '^'" in out


@pytest.mark.parametrize("name, says", [
    ("retro.examples.nav", "defines no JAX_GAME"),
    ("no.such.module", "neither a run directory nor an importable module"),
])
def test_a_game_that_is_not_a_jax_game_gets_a_clear_message(name, says, capsys):
    assert main(["check-port", name]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
