import pytest

from jaxdqn.config.architecture import describe
from tests.support.helpers import SMALL_SPEC


@pytest.mark.parametrize("spatial", [False, True])
def test_describe_names_architecture_reason_and_layers(spatial):
    text = describe(SMALL_SPEC._replace(spatial=spatial), ["KEY_LEFT", "KEY_RIGHT"])
    assert "Why:" in text
    assert ("Conv3x3" in text) == spatial and ("conv_1" in text) == spatial
    assert "KEY_LEFT" in text and "no-op" in text and "q_values" in text and "Total Parameters" in text
    assert all(line.startswith("[INIT]") for line in text.splitlines())
    assert "\x1b[" not in text  # plain text, no terminal colours in the log
