"""Every docstring example under electra_tf/ runs as a doctest."""

import doctest
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Modules with examples today; fewer means examples were lost.
MIN_MODULES_WITH_EXAMPLES = 30


def _module_names():
    names = []
    for folder, _, files in os.walk(os.path.join(ROOT, "electra_tf")):
        for name in sorted(files):
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), ROOT)
                names.append(
                    rel[:-3].replace(os.sep, ".").removesuffix(".__init__")
                )
    return sorted(names)


MODULES = _module_names()


def _tests(name):
    finder = doctest.DocTestFinder(exclude_empty=True)
    module = importlib.import_module(name)
    return [t for t in finder.find(module, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _tests(name):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples of {name} failed"


def test_modules_have_examples():
    with_examples = [name for name in MODULES if _tests(name)]
    assert len(with_examples) >= MIN_MODULES_WITH_EXAMPLES, with_examples
