import time

import jax
import jax.numpy as jnp

from jaxdqn.trainers.stats import EpisodeResult, Interval, StepRate, TrainingClock


def test_the_training_clock_leaves_compilation_out():
    with TrainingClock() as clock:
        start, wall = clock(), time.perf_counter()
        fresh = jax.jit(lambda x: jnp.tanh(x @ x.T).sum() + 0.123456)  # a program never compiled before
        fresh(jnp.ones((64, 64))).block_until_ready()
        assert clock.compile_seconds > 0
        elapsed, wall_elapsed = clock() - start, time.perf_counter() - wall
        assert abs(elapsed - (wall_elapsed - clock.compile_seconds)) < 0.01
    seen = clock.compile_seconds
    jax.jit(lambda x: x * 7.654321)(jnp.ones(3)).block_until_ready()
    assert clock.compile_seconds == seen  # no longer listening


def test_interval_averages_and_step_rate():
    interval = Interval(0.0)
    interval.add(EpisodeResult(2.0, 10, 0.0, False))  # no update: not in the loss average
    interval.add(EpisodeResult(4.0, 30, 0.5, True))
    stats = interval.stats(episode=12, epsilon=0.5, now=4.0, total_seconds=9.0)
    assert (stats.first_episode, stats.avg_reward, stats.avg_steps, stats.avg_loss) == (11, 3.0, 20.0, 0.5)
    rate = StepRate(0.0)
    assert rate.episode(100, 1.0) == 100.0 and rate.episode(300, 2.0) == 0.9 * 100 + 0.1 * 300
