import sys

import pytest

from runs import TINYGAME


@pytest.fixture(autouse=True)
def tinygame_on_path():
    sys.path.insert(0, str(TINYGAME))
    yield
    sys.path.remove(str(TINYGAME))
