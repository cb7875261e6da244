import os
import tempfile

import pytest

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The tests compare against float32 and float64 computations: on NVIDIA GPUs JAX multiplies float32 matrices
# in TF32 unless told otherwise (about 1e-3 relative), so pin full float32 on every device (a no-op on CPUs).
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
# Compiled programs are shared between tests (and the processes they start): many tests compile the same
# tiny networks. The cache holds exactly what compiling would produce, so no result changes.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="jaxdqn-tests-jax-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tinygame run trained for 20 episodes (checkpoints ep_0010 and ep_0020), shared by the command tests."""
    from jaxdqn.config import load_config
    from jaxdqn.trainers import trainer_from_config
    from tests.support.runs import make_run

    run = make_run(tmp_path_factory.mktemp("cli"), training_episodes=20)
    with trainer_from_config(load_config(run)) as trainer:
        trainer.train(on_checkpoint=lambda s: None)
    return run
