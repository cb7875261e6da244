"""n-step returns made at sample time: each equals the sum a walk over the play order gives."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdqn.core.losses import td_loss
from jaxdqn.core.n_step import n_step_transitions, with_n_step
from jaxdqn.core.replay import make_prioritized_buffer, make_uniform_buffer, ring_of
from jaxdqn.core.settings import Settings
from jaxdqn.core.types import Observation, Transition, example_transition


def one(step: int, game: int, reward: float, done: bool, ended: bool) -> Transition:
    """A transition whose observations say where it came from: board (game, step), extras [step + 1]."""
    def obs(s):
        return Observation(jnp.array([[game, s]], jnp.uint8), jnp.array([s], jnp.float32))
    return Transition(obs(step), jnp.int32(game), jnp.float32(reward), obs(step + 1), jnp.bool_(done),
                      ended=jnp.bool_(ended))


def play(games: int, steps: int, ends: set, dones: set, seed: int = 0) -> list[Transition]:
    """``steps`` steps of ``games`` games in the loops' order (one transition per game per step); ``ends``
    holds the (step, game) pairs whose transition ended its episode, ``dones`` those that were a game over."""
    rng = np.random.default_rng(seed)
    return [one(s, g, float(rng.integers(-3, 4)), (s, g) in dones, (s, g) in ends or (s, g) in dones)
            for s in range(steps) for g in range(games)]


def expected(played: list[Transition], start: int, n: int, gamma: float, stride: int):
    """The n-step return from ``played[start]`` by walking the play order: (reward, last index, steps)."""
    total, k = 0.0, 0
    while k < n and start + k * stride < len(played):
        t = played[start + k * stride]
        total += gamma ** k * float(t.reward)
        k += 1
        if bool(t.ended):
            break
    return total, start + (k - 1) * stride, k


def stored(played: list[Transition], capacity: int, buffer=None):
    buffer = buffer or make_uniform_buffer(capacity)
    state = buffer.init(example_transition(played[0].obs, ended=True))
    add = jax.jit(buffer.add_one)
    for t in played:
        state = add(state, t)
    return buffer, state


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(games=st.integers(1, 3), steps=st.integers(2, 14), n=st.integers(1, 5), capacity=st.integers(4, 40),
       seed=st.integers(0, 1000))
def test_every_slot_gives_the_return_of_its_own_game_up_to_its_episode_end(games, steps, n, capacity, seed):
    rng = np.random.default_rng(seed)
    ends = {(s, g) for s in range(steps) for g in range(games) if rng.random() < 0.15}
    dones = {e for e in ends if rng.random() < 0.5}
    played = play(games, steps, ends - dones, dones, seed)
    _, state = stored(played, capacity)
    live = range(max(0, len(played) - capacity), len(played))  # what the ring still holds
    slots = jnp.array([g % capacity for g in live], jnp.int32)
    batch = jax.jit(n_step_transitions, static_argnums=(2, 3, 4))(state, slots, n, 0.9, games)
    for row, g in enumerate(live):
        reward, last, k = expected(played, g, n, 0.9, games)
        assert float(batch.reward[row]) == pytest.approx(reward, rel=1e-5, abs=1e-5)
        assert float(batch.discount[row]) == pytest.approx(0.9 ** k, rel=1e-6)
        assert bool(batch.done[row]) == bool(played[last].done)
        assert float(batch.next_obs.extras[row, 0]) == float(played[last].next_obs.extras[0])
        assert int(batch.next_obs.board[row, 0, 0]) == int(played[g].obs.board[0, 0])  # the same game
        assert float(batch.obs.extras[row, 0]) == float(played[g].obs.extras[0])


@pytest.mark.slow
def test_a_return_stops_at_a_game_over_a_cut_episode_and_the_newest_transition():
    # one game: steps 0-1 end at a game over (step 1), 2-4 are cut by the turn limit (step 4), 5-6 still run
    played = play(1, 7, ends={(4, 0)}, dones={(1, 0)}, seed=3)
    _, state = stored(played, 16)
    batch = n_step_transitions(state, jnp.arange(7), 3, 0.5)
    r = [float(t.reward) for t in played]
    assert np.allclose(batch.reward, [r[0] + .5 * r[1], r[1], r[2] + .5 * r[3] + .25 * r[4], r[3] + .5 * r[4], r[4],
                                      r[5] + .5 * r[6], r[6]])
    assert np.allclose(batch.discount, [.25, .5, .125, .25, .5, .25, .5])
    assert list(np.asarray(batch.done)) == [True, True, False, False, False, False, False]
    assert list(np.asarray(batch.next_obs.extras[:, 0])) == [2, 2, 5, 5, 5, 7, 7]


def test_one_step_is_the_buffer_itself_and_its_target_is_the_one_step_target():
    buffer = make_prioritized_buffer(32)
    assert with_n_step(buffer, 1, 0.99) is buffer
    played = play(2, 6, ends={(3, 1)}, dones={(2, 0)})
    _, state = stored(played, 32, buffer)
    slots = jnp.arange(12)
    one_step = n_step_transitions(ring_of(state), slots, 1, 0.99, stride=2)
    plain = jax.tree.map(lambda x: x[slots], ring_of(state).data)
    q = lambda params, obs: obs.extras * params  # noqa: E731 - a one-action linear network
    params = jnp.ones((1,), jnp.float32)
    for weights in (None, jnp.linspace(0.1, 1, 12)):
        assert np.allclose(td_loss(params, params, q, one_step._replace(action=slots * 0), 0.99, weights)[1],
                           td_loss(params, params, q, plain._replace(action=slots * 0), 0.99, weights)[1])


@pytest.mark.parametrize("prioritized", [False, True])
def test_the_settings_buffer_samples_n_step_transitions_with_the_slots_weights_and_priorities(prioritized):
    s = Settings(memory_capacity=64, prioritize_experiences=prioritized, n_step=3, gamma=0.5)
    played = play(2, 10, ends={(4, 0)}, dones={(6, 1)})
    buffer, state = stored(played, 64, s.buffer(stride=2))
    batch, indices, weights = jax.jit(buffer.sample, static_argnames="batch_size")(state, jax.random.PRNGKey(1), 16)
    for row, slot in enumerate(np.asarray(indices)):
        reward, _, k = expected(played, int(slot), 3, 0.5, 2)
        assert float(batch.reward[row]) == pytest.approx(reward) and float(batch.discount[row]) == 0.5 ** k
    assert weights.shape == (16,)
    state = buffer.update(state, indices, jnp.full((16,), 2.0))  # priorities are the sampled slots'


def test_n_step_needs_the_episode_ends_stored():
    plain = play(1, 3, set(), set())[0]._replace(ended=None)
    buffer = make_uniform_buffer(8)
    state = buffer.add_one(buffer.init(example_transition(plain.obs)), plain)
    with pytest.raises(ValueError, match="ended"):
        n_step_transitions(state, jnp.zeros((1,), jnp.int32), 3, 0.9)
