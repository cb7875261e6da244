"""The package's top level: what it exports, and that importing it stays light."""
import subprocess
import sys

import jaxdqn


def test_every_exported_name_resolves():
    for name in jaxdqn.__all__:
        assert getattr(jaxdqn, name) is not None, name
    from jaxdqn.core import make_train
    from jaxdqn.jaxgames import JaxGame
    assert jaxdqn.make_train is make_train and jaxdqn.JaxGame is JaxGame  # the research path from the top


def test_importing_jaxdqn_does_not_load_jax():
    code = "import sys, jaxdqn; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
