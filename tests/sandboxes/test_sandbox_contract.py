"""The sandbox contract: every registered sandbox implements it, a class that leaves
an abstract method out cannot be made, and ``identity()`` is the string the execution
cache has keyed verdicts by (a changed string would execute every cached request again)."""

import sys

import pytest

from sandboxes import SANDBOXES, ExecRequest, Sandbox, get_sandbox
from sandboxes.local import available_modes


@pytest.mark.parametrize("name", list(SANDBOXES))
def test_every_registered_sandbox_implements_the_contract(name):
    cls = SANDBOXES[name]
    assert issubclass(cls, Sandbox)
    assert cls.name == name
    assert not cls.__abstractmethods__


def test_local_identity_is_the_cache_key_it_always_was():
    assert SANDBOXES["local"].identity() == f"local:{available_modes()[0]}:{sys.version.split()[0]}"
    assert SANDBOXES["ray"].identity() == "ray"


def test_a_sandbox_missing_an_abstract_method_cannot_be_made():
    class NoRun(Sandbox):
        name = "norun"

        def __init__(self, workers=None):
            self.size = workers or 1

        @classmethod
        def identity(cls):
            return "norun"

        def start(self):
            return self

        def close(self):
            pass

        def execute(self, req: ExecRequest):
            raise AssertionError

    with pytest.raises(TypeError, match="run"):
        NoRun.from_options(workers=1)


def test_a_sandbox_builds_itself_from_the_options():
    assert get_sandbox("local", workers=3, memory_mb=512).size == 3
    docker = get_sandbox("docker", workers=2, memory_mb=4000)
    assert (docker.size, docker.container_memory_mb) == (2, 8000)
    assert get_sandbox("docker", workers=2).container_memory_mb == 4096
    assert get_sandbox("ray", workers=2, memory_mb=512).memory_mb == 512
    with pytest.raises(ValueError, match="unknown sandbox 'nope'; choose from docker, local, ray"):
        get_sandbox("nope")
