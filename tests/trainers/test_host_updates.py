import numpy as np
import pytest

from jaxdqn.config import load_config
from jaxdqn.core.rows import board_rows
from jaxdqn.core.types import Observation
from jaxdqn.trainers import trainer_from_config
from tests.support.runs import TINY_CONFIG, make_run


def _obs(occupied: int) -> Observation:
    board = np.zeros((1, 4, 6), np.uint8)
    board.reshape(-1)[:occupied] = 1 + np.arange(occupied) % 3
    return Observation(board, np.zeros((1, 2), np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("prioritized", ["true", "false"])
def test_a_board_that_outgrows_the_lists_mid_chunk_widens_every_holder(tmp_path, prioritized):
    run = make_run(tmp_path, prioritize_experiences=prioritized, batch_size=2, training_episodes=1)
    with trainer_from_config(load_config(run)) as trainer:
        pipeline = trainer.pipeline
        assert pipeline.rows_width == 16 and trainer.hp["train_every"] == 4
        held = pipeline.store(_obs(3))  # the loop holds this batch across the widening
        for _ in range(2):  # half a chunk
            pipeline.add(held, pipeline.store(_obs(4)), 0, 1, 0.5, False)
        crowded = pipeline.store(_obs(20))  # 20 occupied cells: the lists must widen to 32
        assert pipeline.rows_width == 32 and crowded.rows.shape == (1, 32) and held.rows.shape == (1, 16)
        pipeline.add(held, crowded, 0, 2, 1.0, True)  # a narrower held batch is widened on the way in
        pipeline.add(crowded, pipeline.store(_obs(2)), 0, 0, 0.0, False)
        assert pipeline.chunk.size == 4 and pipeline.chunk.data.obs.rows.shape == (4, 32)
        pad = trainer.spec.flat_board_size
        np.testing.assert_array_equal(pipeline.chunk.data.next_obs.rows[2], board_rows(_obs(20).board, trainer.spec, 32)[0])
        np.testing.assert_array_equal(pipeline.chunk.data.obs.rows[0, 16:], pad)
        assert pipeline.will_train()
        pipeline.train(sync_target=False)  # the fused step compiles once for the new width
        assert pipeline.updates == 1 and pipeline.buffer_items == 4
        ring = pipeline.replay.ring if prioritized == "true" else pipeline.replay
        stored = np.asarray(ring.data.next_obs.rows[:4])
        assert stored.shape == (4, 32)
        np.testing.assert_array_equal(stored[2], board_rows(_obs(20).board, trainer.spec, 32)[0])
        assert pipeline.greedy(held).shape == (1,)


EGOCENTRIC = TINY_CONFIG.replace('observe_state = ["where"]  # a tuple set after the game is created',
                                 'egocentric = true\negocentric_player = "player"\negocentric_radius = 3')


@pytest.mark.slow
@pytest.mark.parametrize("num_envs, save_replay", [(1, "true"), (3, "false")])
def test_an_egocentric_view_past_the_edge_widens_the_lists_while_training(tmp_path, num_envs, save_replay):
    """The view off the board's edge counts as occupied cells, so walking to an edge widens the lists
    (the crash of an egocentric snake run after its first episode)."""
    run = make_run(tmp_path, EGOCENTRIC, num_envs=num_envs, save_replay_buffer=save_replay, training_episodes=12,
                   checkpoint_every=6, epsilon_decay=1.0)
    with trainer_from_config(load_config(run)) as trainer:
        assert trainer.pipeline.rows_width == 32
        rewards = []
        trainer.train(on_episode=lambda: rewards.append(trainer.last_episode.reward))
        assert len(rewards) == 12 and trainer.pipeline.rows_width == 64
    if save_replay == "true":
        with trainer_from_config(load_config(make_run(tmp_path, EGOCENTRIC, save_replay_buffer="true",
                                                      training_episodes=18, checkpoint_every=6,
                                                      epsilon_decay=1.0))) as resumed:
            resumed.resume()
            assert resumed.pipeline.rows_width == 64 and resumed.pipeline.buffer_items == 12 * 12
            resumed.train(on_episode=lambda: None)
