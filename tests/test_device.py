import jax
import pytest

from jaxdqn.device import DeviceUnavailable, select_device


def test_select_device_cpu_and_auto(monkeypatch):
    monkeypatch.delenv("JAXDQN_DEVICE", raising=False)
    choice = select_device("cpu")
    assert choice.kind == "cpu" and "cpu" in choice.description
    assert select_device("auto").device in jax.devices()


def test_unavailable_or_unknown_device_is_explained(monkeypatch):
    monkeypatch.delenv("JAXDQN_DEVICE", raising=False)
    if not jax.devices()[0].platform == "cpu":
        pytest.skip("needs a CPU-only machine")
    with pytest.raises(DeviceUnavailable, match="cuda.*pip install"):
        select_device("cuda")
    with pytest.raises(DeviceUnavailable, match="not a known device"):
        select_device("tpu9")


def test_environment_variable_overrides_config(monkeypatch):
    monkeypatch.setenv("JAXDQN_DEVICE", "cpu")
    assert select_device("cuda").kind == "cpu"
