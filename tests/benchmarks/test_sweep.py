"""benchmarks/sweep.py: the steps each agent played, and the bounds that leave the board kernel untrained."""
import sys
from pathlib import Path
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import sweep  # noqa: E402

import jaxdqn.core.learner as learner  # noqa: E402


def test_each_agent_counts_its_finished_episodes_and_its_games_still_running():
    lengths = np.array([[[5, 6, 7], [1, 2, 3]], [[9, 9, 9], [4, 0, 0]]])  # [rates, seeds, episode records]
    state = SimpleNamespace(episodes=np.array([[2, 3], [0, 1]]), records=SimpleNamespace(length=lengths),
                            ep_length=np.array([[[1, 1], [0, 0]], [[2, 0], [0, 3]]]))  # [rates, seeds, games]
    np.testing.assert_array_equal(sweep.played_each(state), [11 + 2, 6 + 0, 0 + 2, 4 + 3])


@pytest.mark.parametrize("how", ["no-adam", "frozen"])
def test_the_board_kernel_gets_no_step_and_the_rest_trains_as_before(how, monkeypatch):
    monkeypatch.setattr(learner, "make_optimizer", learner.make_optimizer)  # put back after the test
    params = {"input": {"board_kernel": jnp.ones((6, 3)), "bias": jnp.ones(3)}, "q": {"kernel": jnp.ones((3, 2))}}
    grads = {"input": {"board_kernel": jnp.full((6, 3), 100.0), "bias": jnp.full(3, 0.5)},
             "q": {"kernel": jnp.full((3, 2), 0.5)}}
    plain = learner.make_optimizer(1e-2, 1.0)
    sweep.untrained_board_kernel(how)
    bound = learner.make_optimizer(1e-2, 1.0)
    # two steps, the board kernel's gradient large in the first only: Adam's second step shows how the
    # first was clipped, by the norm of every gradient ("no-adam") or of the others alone ("frozen")
    without = {**grads, "input": {**grads["input"], "board_kernel": jnp.zeros((6, 3))}}
    state = learner.set_learning_rate(bound.init(params), 1e-2)
    for g in (grads, without):
        updates, state = bound.update(g, state, params)
        assert not np.any(np.asarray(updates["input"]["board_kernel"]))

    def plain_second_step(first):
        _, opt_state = plain.update(first, plain.init(params), params)
        return plain.update(without, opt_state, params)[0]
    clipped_with_it, clipped_without_it = plain_second_step(grads), plain_second_step(without)
    assert not np.allclose(clipped_with_it["q"]["kernel"], clipped_without_it["q"]["kernel"], rtol=1e-3)
    expected = clipped_with_it if how == "no-adam" else clipped_without_it
    for layer, name in (("input", "bias"), ("q", "kernel")):
        np.testing.assert_allclose(updates[layer][name], expected[layer][name], rtol=1e-5)


def test_the_room_a_sweep_makes_is_each_group_times_its_most_steps():
    each = np.array([10, 20, 30, 40, 50])
    assert sweep.loop_used(each, None) == 150 / (5 * 50)  # all together: every agent waits for the last
    assert sweep.loop_used(each, 2) == 150 / (2 * 20 + 2 * 40 + 50)  # groups of two, then the one left
    assert sweep.loop_used(each, 1) == 1.0
