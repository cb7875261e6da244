import pytest

from jaxdqn.config.schema import TRAINING_DEFAULTS
from jaxdqn.trainers.schedules import Schedules, restarted_schedules

SAVED = {"epsilon": 0.4, "learning_rate": 5e-5, "last_update_step": 96}


def test_a_resume_continues_the_saved_schedules_unless_their_start_changed():
    hp = dict(TRAINING_DEFAULTS)
    same = Schedules(hp)
    same.load(SAVED, dict(hp))
    assert (same.epsilon, same.learning_rate, same.last_update_step) == (0.4, 5e-5, 96)
    changed = Schedules(dict(hp, epsilon=0.8, learning_rate=1e-3))
    changed.load(SAVED, dict(hp))
    assert (changed.epsilon, changed.learning_rate) == (0.8, 1e-3)
    floored = Schedules(dict(hp, epsilon_min=0.6))
    floored.load(SAVED, dict(hp))
    assert floored.epsilon == 0.6 and floored.learning_rate == pytest.approx(5e-5)


def test_only_values_the_checkpoint_recorded_and_that_differ_restart():
    hp = dict(TRAINING_DEFAULTS, epsilon=0.5)
    assert restarted_schedules({"epsilon": 0.5, "learning_rate": 1e-4}, hp) == {}
    assert restarted_schedules({}, hp) == {}  # an old checkpoint without its hyperparameters
    assert restarted_schedules({"epsilon": 1.0, "learning_rate": 1e-3}, hp) == {"epsilon": 0.5,
                                                                               "learning_rate": 1e-4}


@pytest.mark.parametrize("train_every, freq, batch", [(4, 500, 64), (3, 10, 8), (4, 6, 4), (1, 5, 2)])
def test_each_update_trains_against_the_target_the_reference_would_use(train_every, freq, batch):
    """The reference's loop, step by step: push, train when ``steps % train_every == 0`` and replay holds a batch,
    count the step, copy the network when ``steps % freq == 0``. The target an update meets is the network after
    some number of updates; the host loop's copies (made at the update, when ``update_at`` says so) must give
    every update the same one."""
    hp = dict(TRAINING_DEFAULTS, train_every=train_every, target_update_freq=freq, batch_size=batch)
    schedules = Schedules(hp)
    updates, reference_target, ours_target, stored = 0, 0, 0, 0
    for steps in range(3000):
        stored += 1
        if steps % train_every == 0 and stored >= batch:
            if schedules.update_at(steps):
                ours_target = updates
            assert ours_target == reference_target, f"update at step {steps}"
            updates += 1
        if (steps + 1) % freq == 0:
            reference_target = updates
    assert updates > 10


def test_epsilon_decays_after_every_episode_and_the_learning_rate_after_each_that_trained():
    hp = dict(TRAINING_DEFAULTS, epsilon=1.0, epsilon_decay=0.5, epsilon_min=0.2, learning_rate=1e-3,
              learning_rate_decay=0.1)
    schedules = Schedules(hp)
    for trained in (False, True, False, True):
        schedules.episode_finished(trained)
    assert schedules.epsilon == 0.2  # 1, .5, .25, then the floor
    assert schedules.learning_rate == pytest.approx(1e-5)
