"""Module paths from before the regroup: each one imports the module at its new path, and says where."""
import importlib
import json
import subprocess
import sys

import pytest

from jaxdqn import moved


def test_every_old_path_gives_the_new_module_with_a_warning_naming_it():
    """In a fresh process, so that no old path was imported before."""
    code = ("import importlib, json, warnings\nfrom jaxdqn.moved import MOVED\nwarnings.simplefilter('always')\n"
            "found = {}\n"
            "for old, new in sorted(MOVED.items()):\n"
            "    with warnings.catch_warnings(record=True) as w:\n"
            "        module = importlib.import_module(old)\n"
            "    found[old] = [module is importlib.import_module(new),\n"
            "                  [str(x.message) for x in w if x.category is DeprecationWarning]]\n"
            "print(json.dumps(found))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert sorted(found) == sorted(moved.MOVED)
    for old, (same, warnings) in found.items():
        assert same, old
        assert f"{old} moved to {moved.MOVED[old]}; import it from there" in warnings, (old, warnings)


def test_submodules_of_a_moved_package_and_the_old_from_imports_follow():
    with pytest.warns(DeprecationWarning, match="jaxdqn.networks.layers moved to jaxdqn.core.networks.layers"):
        layers = importlib.import_module("jaxdqn.networks.layers")
    assert layers is importlib.import_module("jaxdqn.core.networks.layers")
    from jaxdqn import learner, sum_tree
    from jaxdqn.core import learner as new_learner
    from jaxdqn.core import sum_tree as new_sum_tree
    assert learner is new_learner and sum_tree is new_sum_tree


def test_paths_that_never_existed_still_fail():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("jaxdqn.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("jaxdqn.trainer.no_such_module")
