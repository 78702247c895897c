"""Import levels: every electra_tf module has a level (the table below, also
drawn in README's architecture section) and imports only modules of lower
levels, or siblings of its own package at its own level. Modules of one
level in different packages never import each other: models, the
pre-training data side and the fine-tuning tasks stay independent. Imports
inside function bodies count too, except the few listed in ON_USE."""

import ast
import fnmatch
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
PACKAGE = os.path.join(ROOT, "electra_tf")

# (level, modules below electra_tf): a name gives one module its level, a
# `pkg.*` pattern the modules of a package that have no name of their own
# ("" is electra_tf/__init__.py itself).
# fmt: off
LEVELS = [
    (0, ["errors", "cli"]),            # leaves: error kinds, quiet start-up
    (1, ["hparam_ranges"]),            # leaf: hparam types and ranges
    (2, ["flops"]),                    # generic math
    (3, ["training", "training.*"]),   # generic loop and strategies
    (4, ["config", "config.*", "tokenization", "tf_text_tokenizer",
         "vocab_builder"]),
    (5, ["layers", "layers.*"]),
    (5, ["optimization"]),             # the schedule, AdamWeightDecay
    (6, ["models", "models.*"]),       # masking, encoder, pretrainer, ...
    (6, ["pretraining", "pretraining.*"]),  # the data side
    (6, ["finetuning.*"]),             # the tasks
    (7, ["checkpoints", "checkpoints.*"]),
    (8, ["serving", "serving.*", "pretraining.runner",
         "finetuning.runner"]),        # the wiring
    (9, ["pretraining.summary", "finetuning", "convert", "export",
         "pipeline", ""]),             # CLIs, public names
]
# fmt: on


# Imports inside a function body allowed to go up, (importer, imported)
# prefixes: the models' from_pretrained / save_pretrained are the
# convenience entry to every checkpoint format and import it on use.
ON_USE = [("electra_tf.models", "electra_tf.checkpoints")]


def _modules():
    """{module name: (path, is a package __init__)}."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                init = rel.endswith(".__init__")
                modules[rel.removesuffix(".__init__")] = (path, init)
    return modules


MODULES = _modules()


def level(module):
    name = module.removeprefix("electra_tf").removeprefix(".")
    for value, patterns in LEVELS:
        if name in patterns:
            return value
    for value, patterns in LEVELS:
        if any(fnmatch.fnmatchcase(name, p) for p in patterns if "*" in p):
            return value
    raise AssertionError(f"{module} has no level in LEVELS")


def package(module):
    return module if MODULES[module][1] else module.rsplit(".", 1)[0]


def _imports(module):
    """(imported electra_tf module, line, inside a function body)."""
    path, init = MODULES[module]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())

    def walk(node, on_use):
        for child in ast.iter_child_nodes(node):
            inside = on_use or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef)
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, inside
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".")[
                        : len(module.split(".")) - child.level + init
                    ]
                    base = ".".join(parts + ([base] if base else []))
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    yield (
                        sub if sub in MODULES else base
                    ), child.lineno, inside
            yield from walk(child, inside)

    return list(walk(tree, False))


def _allowed(module, imported, on_use):
    if level(imported) < level(module):
        return True
    if level(imported) == level(module) and package(imported) == package(
        module
    ):
        return True
    return on_use and any(
        module.startswith(a) and imported.startswith(b) for a, b in ON_USE
    )


def test_every_module_has_a_level():
    names = sorted(MODULES)
    assert (
        "electra_tf.layers.attention" in names and "electra_tf.config" in names
    )
    assert {level(m) for m in names} == set(range(10))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_downward(module):
    bad = []
    for name, line, on_use in _imports(module):
        assert not name.startswith(
            ("run_pretraining", "run_finetuning")
        ), module
        assert name != "absl.flags", f"{module} parses flags; only run_*.py may"
        if name.split(".")[0] != "electra_tf":
            continue
        assert name in MODULES, f"{module}:{line} imports unknown {name}"
        if not _allowed(module, name, on_use):
            bad.append(f"line {line}: {name} (level {level(name)})")
    assert not bad, f"{module} (level {level(module)}) imports " + ", ".join(
        bad
    )


def test_the_levels_reject_the_known_wrong_directions():
    """The table itself: each hard rule of the house is a level order."""
    assert not _allowed(
        "electra_tf.layers.heads", "electra_tf.models.encoder", True
    )
    assert not _allowed(
        "electra_tf.models.pretrainer", "electra_tf.pretraining.data", False
    )
    assert not _allowed(
        "electra_tf.models.finetuner", "electra_tf.finetuning.task", True
    )
    assert not _allowed(
        "electra_tf.pretraining.data", "electra_tf.models.encoder", False
    )
    assert not _allowed("electra_tf.training.loop", "electra_tf.config", False)
    assert not _allowed(
        "electra_tf.models.encoder", "electra_tf.checkpoints", False
    )
    assert _allowed("electra_tf.models.encoder", "electra_tf.checkpoints", True)


def test_public_names_resolve():
    import electra_tf

    for name in electra_tf.__all__:
        # `pipeline` is the callable module `electra_tf.pipeline` once the
        # CLI module has been imported, the function before.
        assert getattr(electra_tf, name).__name__ in (
            name,
            f"electra_tf.{name}",
        )
        assert callable(getattr(electra_tf, name))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        electra_tf.Nope
