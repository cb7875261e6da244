import pytest

from tests.support.runs import TINYGAME


@pytest.fixture(autouse=True)
def tinygame_on_path(monkeypatch):
    """The tinygame importable by name, as a user's game on the path would be."""
    monkeypatch.syspath_prepend(str(TINYGAME))
