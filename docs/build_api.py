"""The API reference: the public modules' docstrings as HTML, with pdoc.

    pip install -e ".[test]"          # includes pdoc
    python docs/build_api.py [OUT]    # default docs/api; open OUT/index.html

The suite builds it too (tests/docs/test_build_api.py), so a docstring or import that breaks the
reference fails there.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a researcher or a game author imports; the command line and the trainer's internals are left out.
PUBLIC = [
    "jaxdqn",
    "jaxdqn.core.types",
    "jaxdqn.core.settings",
    "jaxdqn.core.networks",
    "jaxdqn.core.losses",
    "jaxdqn.core.learner",
    "jaxdqn.core.replay",
    "jaxdqn.core.n_step",
    "jaxdqn.core.sum_tree",
    "jaxdqn.core.acting",
    "jaxdqn.core.rows",
    "jaxdqn.core.schedules",
    "jaxdqn.core.runner",
    "jaxdqn.core.training",
    "jaxdqn.core.sharding",
    "jaxdqn.core",
    "jaxdqn.jaxgames",
    "jaxdqn.jaxgames.protocol",
    "jaxdqn.jaxgames.snake",
    "jaxdqn.jaxgames.gymnax_adapter",
    "jaxdqn.trainers",
    "jaxdqn.policy",
    "jaxdqn.games.metadata",
    "jaxdqn.games.env",
    "jaxdqn.run.checkpoints",
    "jaxdqn.run.log",
    "jaxdqn.run.metrics",
]


def build(out: Path) -> list[Path]:
    """Write the reference into ``out``; returns the pages written."""
    import pdoc
    import pdoc.render

    sys.path.insert(0, str(ROOT))
    pdoc.render.configure(docformat="google", footer_text="jaxdqn")
    pdoc.pdoc(*PUBLIC, output_directory=out)
    return sorted(out.rglob("*.html"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "api"
    pages = build(target)
    print(f"Wrote {len(pages)} pages to {target}; open {target / 'index.html'}")
