import errno
import json
import time

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdqn.run.checkpoints import Checkpoints, CheckpointWriteError, DamagedCheckpoint, checkpoint_name
from jaxdqn.run.disk import DiskFull


def state(value=1.0):
    return {"w": jnp.full((3, 2), value), "step": jnp.int32(4), "extras": jnp.zeros((5, 0))}


def meta(episode):
    """The least a checkpoint's metadata holds (what every reader of a run relies on), and a note."""
    return {"episode": episode, "total_steps": 12 * episode, "total_training_seconds": 1.5, "epsilon": 0.5,
            "note": "test"}


def save(ckpts, episode, replay=None, before_commit=None):
    return ckpts.save(episode, state(float(episode)), meta(episode), replay, before_commit)


def tree_of(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_save_restore_round_trip_with_zero_size_arrays(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=3)
    replay = {"obs": jnp.ones((4, 2), jnp.uint8), "extras": jnp.zeros((4, 0), jnp.float32)}
    save(ckpts, 10, replay)
    restored, m, r = ckpts.restore(10, state(), replay)
    assert m == meta(10) and r["extras"].shape == (4, 0) and restored["extras"].shape == (5, 0)
    np.testing.assert_array_equal(restored["w"], np.full((3, 2), 10.0))
    np.testing.assert_array_equal(r["obs"], np.ones((4, 2)))
    assert ckpts.verify(10) is None and ckpts.has_replay(10)


def test_replay_without_its_optional_fields_reads_back_on_either_side_of_them(tmp_path):
    """A one-step transition's ``discount`` and ``ended`` are None: replay is stored without them, as before
    they existed, so a replay written then (a five-field transition) restores into today's Transition, and
    one with ``ended`` (n-step returns) round-trips."""
    import collections

    from jaxdqn.core.types import Observation, Transition
    obs = Observation(jnp.ones((4, 2, 3), jnp.uint8), jnp.zeros((4, 0), jnp.float32))
    fields = (obs, jnp.arange(4, dtype=jnp.int32), jnp.linspace(0, 1, 4), obs, jnp.array([0, 1, 0, 0], bool))
    before = collections.namedtuple("Transition", ["obs", "action", "reward", "next_obs", "done"])(*fields)
    ckpts = Checkpoints(tmp_path / "checkpoints")
    save(ckpts, 10, {"data": before})
    _, _, replay = ckpts.restore(10, state(), {"data": Transition(*fields)})
    assert isinstance(replay["data"], Transition) and replay["data"].ended is None
    np.testing.assert_array_equal(replay["data"].done, fields[4])
    with_ends = Transition(*fields, ended=jnp.array([0, 0, 1, 0], bool))
    save(ckpts, 20, {"data": with_ends})
    _, _, replay = ckpts.restore(20, state(), {"data": with_ends})
    np.testing.assert_array_equal(replay["data"].ended, with_ends.ended)
    assert replay["data"].discount is None and replay["data"].obs.extras.shape == (4, 0)


def test_never_more_than_keep_even_while_saving(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=2)
    seen = []
    for episode in (5, 10, 15, 20):
        save(ckpts, episode, before_commit=lambda: seen.append(len(ckpts.steps())))
    assert ckpts.names() == ["ep_0015", "ep_0020"]
    assert max(seen) <= 2  # while the new one waited to become visible
    assert sorted(p.name for p in ckpts.directory.iterdir()) == ["ep_0015", "ep_0020"]


def test_an_interrupted_save_is_invisible_then_committed_or_discarded(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=2)
    save(ckpts, 5)
    save(ckpts, 10)

    class Killed(BaseException):
        pass

    def killed():
        raise Killed  # as if the process died after the log line, before the rename
    with pytest.raises(Killed):
        save(ckpts, 15, before_commit=killed)
    assert ckpts.names() == ["ep_0005", "ep_0010"]  # readers see only complete checkpoints
    assert (ckpts.directory / ".pending-ep_0015").is_dir()
    notes = ckpts.recover(logged={5, 10, 15})  # its log line was written: finish it
    assert ckpts.names() == ["ep_0010", "ep_0015"] and "finished saving ep_0015" in notes[0]
    with pytest.raises(Killed):
        save(ckpts, 20, before_commit=killed)
    assert ckpts.recover(logged={10, 15}) == []  # no log line: discarded
    assert ckpts.names() == ["ep_0010", "ep_0015"]
    assert sorted(p.name for p in ckpts.directory.iterdir()) == ["ep_0010", "ep_0015"]


def test_recover_removes_orbax_temporaries_and_half_deleted_checkpoints(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=3)
    save(ckpts, 5)
    (ckpts.directory / "ep_0010.orbax-checkpoint-tmp-123").mkdir()
    (ckpts.directory / ".deleting-ep_0001-99").mkdir()
    ckpts.recover(logged=set())
    assert sorted(p.name for p in ckpts.directory.iterdir()) == ["ep_0005"]


def test_readers_never_change_the_directory(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=3)
    save(ckpts, 5, {"x": jnp.ones(3)})
    (ckpts.directory / "ep_0010.orbax-checkpoint-tmp-123").mkdir()  # a trainer's save in progress
    (ckpts.directory / ".pending-ep_0010").mkdir()
    before = tree_of(ckpts.directory)
    reader = Checkpoints(tmp_path / "checkpoints")
    assert reader.steps() == [5] and reader.latest() == 5 and reader.resolve("5") == 5
    reader.read_meta(5)
    reader.restore(5, state(), {"x": jnp.zeros(3)})
    assert reader.verify(5) is None
    assert tree_of(ckpts.directory) == before


@pytest.mark.parametrize("damage", ["truncate array", "delete array", "garbage meta", "empty directory",
                                    "garbage state metadata"])
def test_damage_is_named_not_dumped(tmp_path, damage):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=3)
    save(ckpts, 5)
    path = ckpts.path(5)
    arrays = sorted(p for p in (path / "state").rglob("*") if p.is_file() and p.stat().st_size > 0
                    and "ocdbt" not in p.name and not p.name.startswith("_"))
    if damage == "truncate array":
        for p in arrays:
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    elif damage == "delete array":
        for p in arrays:
            p.unlink()
    elif damage == "garbage meta":
        (path / "meta" / "metadata").write_bytes(b"\xff\xfe not json")
    elif damage == "empty directory":
        for p in sorted(path.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
    else:
        (path / "state" / "_METADATA").write_text("{ not json")
    if damage in ("garbage meta", "empty directory"):
        with pytest.raises(DamagedCheckpoint, match="checkpoint ep_0005 is damaged"):
            ckpts.read_meta(5)
    with pytest.raises(DamagedCheckpoint, match="checkpoint ep_0005 is damaged") as err:
        ckpts.restore(5, state())
    assert "\n" not in str(err.value) and len(str(err.value)) < 300
    assert ckpts.verify(5) is not None


def test_metadata_that_is_not_jaxdqns_is_damage(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints")
    save(ckpts, 5)
    (ckpts.path(5) / "meta" / "metadata").write_text(json.dumps(["a", "list"]))
    with pytest.raises(DamagedCheckpoint, match="not jaxdqn's"):
        ckpts.read_meta(5)


def test_a_full_disk_is_reported_as_such_and_leaves_nothing_behind(tmp_path, monkeypatch):
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=4)
    save(ckpts, 5)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(type(ckpts._orbax), "save", full)
    with pytest.raises(DiskFull) as err:
        save(ckpts, 10)
    text = str(err.value)
    assert "disk" in text and "full" in text and "keep_checkpoints = 4" in text and "ep_0005" in text
    assert "is untouched" in text
    assert sorted(p.name for p in ckpts.directory.iterdir()) == ["ep_0005"]

    def broken(*args, **kwargs):
        raise ValueError("some storage problem")
    monkeypatch.setattr(type(ckpts._orbax), "save", broken)
    with pytest.raises(CheckpointWriteError, match="could not write checkpoint ep_0010.*some storage problem"):
        save(ckpts, 10)


def test_set_aside_keeps_the_files_under_another_name(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints")
    save(ckpts, 5)
    moved = ckpts.set_aside(5, "damaged")
    assert moved.name == "ep_0005.damaged" and moved.is_dir() and ckpts.steps() == []
    save(ckpts, 5)
    assert ckpts.set_aside(5, "damaged").name == "ep_0005.damaged-2"


def test_names_and_resolve(tmp_path):
    ckpts = Checkpoints(tmp_path / "checkpoints")
    assert checkpoint_name(7) == "ep_0007" and checkpoint_name(12345) == "ep_12345"
    with pytest.raises(Exception, match="no checkpoints"):
        ckpts.resolve(None)
    save(ckpts, 7)
    assert ckpts.resolve("ep_0007") == ckpts.resolve("7") == ckpts.resolve("checkpoints/ep_0007") == 7
    with pytest.raises(Exception, match="available: ep_0007"):
        ckpts.resolve("ep_0008")


def test_a_checkpoint_that_cannot_be_read_for_permissions_is_named(tmp_path, monkeypatch):
    from pathlib import Path
    ckpts = Checkpoints(tmp_path / "checkpoints")
    save(ckpts, 5)
    save(ckpts, 10)
    is_dir = Path.is_dir

    def locked(self):  # what a directory without read permission does for another user (the suite runs as root)
        if self.parent == ckpts.path(10):
            raise PermissionError(13, "Permission denied", str(self))
        return is_dir(self)
    monkeypatch.setattr(Path, "is_dir", locked)
    with pytest.raises(DamagedCheckpoint, match=r"checkpoint ep_0010 is damaged.*cannot be read.*Permission denied"):
        ckpts.read_meta(10)
    assert "Permission denied" in str(ckpts.verify(10)) and ckpts.verify(5) is None


def test_a_failed_save_leaves_no_temporary_even_when_a_writer_finishes_late(tmp_path, monkeypatch):
    import threading
    ckpts = Checkpoints(tmp_path / "checkpoints", keep=4)
    save(ckpts, 5)

    def full(self, path, *args, **kwargs):
        def late():  # Orbax's other part, still being written in the background after the failure
            sharding = path.parent / f"{path.name}.orbax-checkpoint-tmp" / "replay.orbax-checkpoint-tmp" / "_sharding"
            sharding.parent.mkdir(parents=True, exist_ok=True)
            sharding.write_text("{}")
        threading.Timer(0.2, late).start()
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(type(ckpts._orbax), "save", full)
    with pytest.raises(DiskFull):
        save(ckpts, 10)
    time.sleep(0.6)  # the late writer has long finished
    assert sorted(p.name for p in ckpts.directory.iterdir()) == ["ep_0005"]
