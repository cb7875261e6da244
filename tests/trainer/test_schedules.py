import pytest

from jaxdqn.config_schema import TRAINING_DEFAULTS
from jaxdqn.trainer.schedules import Schedules, restarted_schedules

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
