"""oneDNN's convolution kernel: it builds here, computes XLA's numbers, and falls back cleanly."""
import logging
import platform
import sys
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jaxdqn import native
from jaxdqn.core.learner import init_learner, make_optimizer, make_update
from jaxdqn.core.networks import layers, make_network
from jaxdqn.native import onednn
from tests.support.helpers import SMALL_SPEC, random_transitions

WHEELS_EXIST = sys.platform.startswith("linux") and platform.machine() == "x86_64"
CNN = SMALL_SPEC._replace(spatial=True)
LEARNING_RATE = 1e-3
TOLERANCE = 1e-5  # largest difference allowed, relative to the largest magnitude of the compared array


def close(ours, xla):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(xla)):
        scale = float(jnp.max(jnp.abs(b))) or 1.0
        assert float(jnp.max(jnp.abs(a - b))) <= TOLERANCE * scale


@pytest.mark.skipif(not WHEELS_EXIST, reason="the oneDNN wheels exist for Linux x86-64 only")
def test_the_kernel_builds_and_loads_where_the_wheels_exist():
    backend = native.load()
    assert backend.onednn, backend.line
    assert backend.line.startswith("oneDNN 2023.2.0")


def onednn_or_skip():
    if not native.load().onednn:
        pytest.skip(native.load().line)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(2, 4, 5, 3, 6), (3, 9, 7, 32, 64)])
def test_onednn_convolution_and_its_gradients_equal_xla(shape, relu):
    onednn_or_skip()
    n, h, w, c_in, c_out = shape
    keys = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(keys[0], (n, h, w, c_in))
    kernel = jax.random.normal(keys[1], (3, 3, c_in, c_out)) / np.sqrt(9 * c_in)
    bias = jax.random.normal(keys[2], (c_out,))
    g = jax.random.normal(keys[3], (n, h, w, c_out))

    def loss(conv):
        return lambda x, kernel, bias: jnp.sum(conv(x, kernel, bias, relu) * g)

    xla = lambda x, kernel, bias, relu: layers._bias_relu(layers.xla_conv3x3(x, kernel), bias, relu)
    close(jax.jit(layers.conv3x3_onednn, static_argnums=3)(x, kernel, bias, relu), xla(x, kernel, bias, relu))
    close(jax.jit(jax.grad(loss(layers.conv3x3_onednn), (0, 1, 2)))(x, kernel, bias),
          jax.grad(loss(xla), (0, 1, 2))(x, kernel, bias))


def test_onednn_convolution_under_vmap_equals_one_call_per_member():
    onednn_or_skip()
    keys = jax.random.split(jax.random.key(1), 2)
    x = jax.random.normal(keys[0], (3, 2, 4, 5, 3))
    kernel = jax.random.normal(keys[1], (3, 3, 3, 3, 6))
    batched = jax.jit(jax.vmap(lambda x, k: layers.conv3x3(x, k, relu=True)))(x, kernel)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], layers.conv3x3(x[i], kernel[i], relu=True))


def test_onednn_convolution_inside_shard_map_and_scan_as_the_sharded_loop_runs_it():
    """Values that vary across shard_map's axes pass through the kernel (its results are typed as the
    inputs are), in a scan of gradient steps, with the numbers of the same steps outside shard_map."""
    onednn_or_skip()
    keys = jax.random.split(jax.random.key(2), 2)
    x = jax.random.normal(keys[0], (1, 2, 5, 6, 3))
    kernel = jax.random.normal(keys[1], (1, 3, 3, 3, 4))

    def steps(x, kernel):
        def step(kernel, _):
            grad = jax.grad(lambda k: jnp.sum(layers.conv3x3(x[0], k[0], relu=True) ** 2))(kernel)
            return kernel - 0.01 * grad, None
        return jax.lax.scan(step, kernel, None, length=3)[0]

    mesh = Mesh(np.array(jax.devices()[:1]), ("agents",))
    sharded = jax.jit(jax.shard_map(steps, mesh=mesh, in_specs=(P("agents"), P("agents")), out_specs=P("agents")))
    np.testing.assert_array_equal(sharded(x, kernel), jax.jit(steps)(x, kernel))


def test_cnn_q_values_and_one_update_equal_with_either_convolution(monkeypatch):
    onednn_or_skip()
    net = make_network(CNN)
    opt = make_optimizer(LEARNING_RATE)
    state = init_learner(jax.random.PRNGKey(0), net, opt)
    batch = random_transitions(np.random.default_rng(0), CNN, 16)

    def q_and_update():  # fresh functions: JAX caches what it traced by function
        program = str(jax.make_jaxpr(lambda p, o: net.apply(p, o))(state.params, batch.obs))
        update = make_update(net, opt, gamma=0.9, target_update_period=10, donate=False)
        q = jax.jit(lambda p, o: net.apply(p, o))(state.params, batch.obs)
        return "jaxdqn_conv3x3" in program, (q, update(state, batch, None)[0].params)

    uses_onednn, ours = q_and_update()
    assert uses_onednn
    monkeypatch.setattr(layers.native, "load", lambda: native.Backend(False, "XLA's (test)"))
    uses_onednn, xla = q_and_update()
    assert not uses_onednn
    close(ours[0], xla[0])
    # Adam's first step moves every parameter by about the learning rate, whatever the gradient's
    # size, so parameters are compared against that step: equal to 0.1% of it.
    for a, b in zip(jax.tree.leaves(ours[1]), jax.tree.leaves(xla[1])):
        assert float(jnp.max(jnp.abs(a - b))) <= 1e-3 * LEARNING_RATE


def test_without_a_compiler_convolutions_stay_on_xla_with_one_warning(monkeypatch, tmp_path, caplog):
    if not WHEELS_EXIST:
        pytest.skip("the wheels are missing here, so the build is never reached")
    monkeypatch.setenv("JAXDQN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    with caplog.at_level(logging.WARNING, logger=onednn.log.name):
        backend = onednn._load("auto")
    assert not backend.onednn
    assert "no C++ compiler found" in backend.line and "set CXX" in backend.line
    assert [r.getMessage() for r in caplog.records] == [f"convolutions: {backend.line}"]
    with pytest.raises(RuntimeError, match="JAXDQN_CONVOLUTION=onednn, but .*no C\\+\\+ compiler"):
        onednn._load("onednn")


def test_a_missing_wheel_is_named_with_the_command_that_installs_it(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.delenv("JAXDQN_ONEDNN_ROOT", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(onednn.metadata, "distribution", missing)
    backend = onednn._load("auto")
    assert not backend.onednn
    assert "onednn-cpu-gomp wheel is not installed (pip install onednn-cpu-gomp onednn-devel-cpu-gomp)" in backend.line


def test_a_bad_onednn_root_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDQN_ONEDNN_ROOT", str(tmp_path))
    with pytest.raises(onednn.Unavailable, match="JAXDQN_ONEDNN_ROOT=.* lacks include/oneapi/dnnl/dnnl.hpp"):
        onednn.find_onednn()


def test_the_choice_is_checked_and_xla_builds_nothing(monkeypatch):
    monkeypatch.setenv("JAXDQN_CONVOLUTION", "gpu")
    with pytest.raises(ValueError, match="JAXDQN_CONVOLUTION='gpu' is not one of auto, onednn, xla"):
        onednn.choice()
    monkeypatch.setattr(onednn, "find_onednn", lambda: pytest.fail("XLA was asked for: nothing to find"))
    assert onednn._load("xla") == native.Backend(False, "XLA's (JAXDQN_CONVOLUTION=xla)")


@pytest.mark.slow
@pytest.mark.skipif(not WHEELS_EXIST, reason="the oneDNN wheels exist for Linux x86-64 only")
def test_the_kernel_is_compiled_once_into_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDQN_CACHE_DIR", str(tmp_path / "cache"))
    found = onednn.find_onednn()
    built = onednn.build(found)
    assert built.parent == tmp_path / "cache" and built.name.startswith("conv3x3-")
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # the work folder is gone
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))  # a second build would fail
    assert onednn.build(found) == built


def test_the_kernel_is_chosen_for_programs_that_run_on_the_cpu(monkeypatch):
    """On a machine whose default backend is a GPU, a trainer told ``device = "cpu"`` traces under
    ``jax.default_device(cpu)``: its convolutions are the CPU's."""
    monkeypatch.setattr(layers.jax, "default_backend", lambda: "gpu")
    assert not layers.traced_for_the_cpu()
    with jax.default_device(jax.devices("cpu")[0]):
        assert layers.traced_for_the_cpu()
