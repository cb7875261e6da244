"""Steps/s of a trainer's own loop, timed from its ``on_episode`` callback.

Free of imports beyond the standard library: the reference probe runs it where only torch and
retro-gamer are installed, and the jaxdqn benchmarks time jaxdqn's trainer with it the same way.
"""
import time


class _Measured(Exception):
    pass


def training_rate(trainer, buffered, ready: int, timed_steps: int) -> dict:
    """Run ``trainer.train`` until it is measured: the clock starts at the first episode that ends with
    ``buffered() >= ready`` and stops at the first episode end at least ``timed_steps`` steps later.
    Returns ``steps_per_s`` and the trainer's ``epsilon`` then."""
    mark = {}

    def on_episode():
        steps = trainer.total_steps
        if "t0" not in mark and buffered() >= ready:
            mark["t0"], mark["s0"] = time.perf_counter(), steps
        elif "t0" in mark and steps - mark["s0"] >= timed_steps:
            mark["rate"] = (steps - mark["s0"]) / (time.perf_counter() - mark["t0"])
            mark["epsilon"] = trainer.epsilon
            raise _Measured
    try:
        trainer.train(on_episode=on_episode)
    except _Measured:
        pass
    return {"steps_per_s": mark["rate"], "epsilon": mark["epsilon"]}
