"""The API reference builds, and documents what the README tells researchers to import."""
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("pdoc")
BUILD = Path(__file__).resolve().parents[2] / "docs" / "build_api.py"


@pytest.mark.slow
def test_the_api_reference_builds_with_every_public_module(tmp_path):
    spec = importlib.util.spec_from_file_location("build_api", BUILD)
    build_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_api)
    pages = build_api.build(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in pages}
    for module in build_api.PUBLIC:
        assert module.replace(".", "/") + ".html" in names, module
    compiled = (tmp_path / "jaxdqn" / "core.html").read_text()
    assert "make_train" in compiled and "TrainConfig" in compiled
    losses = (tmp_path / "jaxdqn" / "core" / "losses.html").read_text()
    assert "td_loss" in losses and "Returns" in losses  # Args:/Returns: rendered as sections
