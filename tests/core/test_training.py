"""make_train's evaluations inside the compiled program: what they report, and that training is unchanged."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.core import make_train
from jaxdqn.core.evaluation import make_evaluate
from jaxdqn.core.networks import make_network
from jaxdqn.core.training import EVAL_STREAM, game_spec
from tests.core.test_runner import SMALL, small
from tests.support.games.paint import paint_jax


def norm(params):
    return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(params)))


@pytest.mark.slow
def test_evaluations_inside_the_program_leave_training_as_it_was():
    key = jax.random.PRNGKey(5)
    plain_state, plain = jax.jit(make_train(small()))(key)
    config = small()._replace(eval_every=6, eval_games=3)
    state, metrics = jax.jit(make_train(config))(key)
    for name in ("episode_reward", "episode_length", "episodes"):
        np.testing.assert_array_equal(metrics[name], plain[name])
    # the same updates, but XLA may compile them inside the evaluation loop with another rounding (on an
    # AMD EPYC: one loss of 12 and some weights 1 ulp apart, each program deterministic)
    np.testing.assert_allclose(metrics["episode_loss"], plain["episode_loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(state.learner.params), jax.tree.leaves(plain_state.learner.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(state.records.count) == int(metrics["episodes"])  # every chunk's episodes kept, in order

    # two evaluations (12 // 6), after at least 6 and 12 episodes; nothing is left to train after the
    # second, so it is greedy play of the final parameters from its own key
    when = np.asarray(metrics["eval_episodes"])
    assert when.shape == (2,) and 6 <= when[0] < 12 <= when[1] == int(metrics["episodes"])
    network = make_network(game_spec(paint_jax.JAX_GAME, config.hidden_sizes))
    evaluate = make_evaluate(paint_jax.JAX_GAME, network, SMALL.rows_width, 3, SMALL.max_turns_per_episode)
    rewards, lengths = jax.jit(evaluate)(state.learner.params,
                                         jax.random.fold_in(jax.random.fold_in(key, EVAL_STREAM), 1))
    np.testing.assert_allclose(metrics["eval_return"][1], rewards.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["eval_length"][1], lengths.mean(), rtol=1e-6)

    # a callback replaces the greedy games; its pytree comes back stacked
    callback = lambda params, key: {"norm": norm(params), "key": jax.random.key_data(key)}
    _, called = jax.jit(make_train(config._replace(eval_callback=callback)))(key)
    assert "eval_return" not in called and called["eval"]["key"].shape[0] == 2
    np.testing.assert_allclose(called["eval"]["norm"][1], norm(state.learner.params), rtol=1e-5)
    np.testing.assert_array_equal(called["episode_reward"], plain["episode_reward"])
