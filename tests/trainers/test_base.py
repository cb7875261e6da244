"""The trainers' contract: the shared base and the checkpoint classes use only state they declare, and
each trainer sets all of it."""
import ast
import inspect
import textwrap

import pytest

from jaxdqn.trainers.base import Trainer
from jaxdqn.trainers.compiled import CompiledTrainer
from jaxdqn.trainers.compiled_checkpoints import CompiledCheckpoints
from jaxdqn.trainers.host import DQNTrainer
from jaxdqn.trainers.host_checkpoints import HostCheckpoints


def self_attributes(cls) -> tuple[set[str], set[str]]:
    """The names a class's own methods read from ``self`` and assign to ``self``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    read, written = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            (written if isinstance(node.ctx, ast.Store) else read).add(node.attr)
    return read, written


def declared(cls) -> set[str]:
    """What a class and its bases declare: annotated attributes, methods and properties."""
    names = set()
    for klass in cls.__mro__:
        names |= set(vars(klass).get("__annotations__", {})) | set(vars(klass))
    return names


@pytest.mark.parametrize("cls", [Trainer, HostCheckpoints, CompiledCheckpoints])
def test_shared_and_checkpoint_code_uses_only_declared_state(cls):
    read, written = self_attributes(cls)
    undeclared = (read | written) - declared(cls)
    assert not undeclared, f"{cls.__name__} uses undeclared attributes: {sorted(undeclared)}"


@pytest.mark.parametrize("trainer, checkpoints", [(DQNTrainer, HostCheckpoints), (CompiledTrainer, CompiledCheckpoints)])
def test_each_trainer_sets_every_attribute_it_declares_and_implements_every_method(trainer, checkpoints):
    assert not trainer.__abstractmethods__
    annotated = set()
    for klass in (Trainer, checkpoints):
        annotated |= set(vars(klass).get("__annotations__", {}))
    written = set()
    for klass in trainer.__mro__[:-1]:
        if klass is not object and klass.__module__.startswith("jaxdqn"):
            written |= self_attributes(klass)[1]
    properties = {name for name in annotated if isinstance(getattr(trainer, name, None), property)}
    assert annotated - written - properties == set(), f"{trainer.__name__} never sets these"
