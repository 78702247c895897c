"""Import direction (DESIGN.md): lower levels never import higher ones."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
PACKAGE = os.path.join(ROOT, "electra_tf")

# module prefix -> package prefixes it must not import
# Leaves every module may import: the error kinds and the hparam ranges.
LEAVES = ("electra_tf.errors", "electra_tf.hparam_ranges")

FORBIDDEN = {
    "electra_tf.errors": ["electra_tf."],
    "electra_tf.hparam_ranges": ["electra_tf."],
    "electra_tf.config": ["electra_tf."],
    "electra_tf.tokenization": ["electra_tf.models", "electra_tf.layers", "electra_tf.training"],
    "electra_tf.layers": [
        "electra_tf.models", "electra_tf.pretraining", "electra_tf.finetuning",
        "electra_tf.training", "electra_tf.checkpoints",
    ],
    # models import electra_tf.checkpoints only inside from_pretrained /
    # save_pretrained, on use; the generic training loop is below them.
    "electra_tf.models": ["electra_tf.pretraining", "electra_tf.finetuning"],
    "electra_tf.pretraining.data": ["electra_tf.models", "electra_tf.layers"],
    "electra_tf.pretraining.build_dataset": ["electra_tf.models", "electra_tf.layers"],
    "electra_tf.optimization": ["electra_tf.models", "electra_tf.layers"],
    "electra_tf.training": [
        "electra_tf.models", "electra_tf.layers", "electra_tf.pretraining",
        "electra_tf.finetuning", "electra_tf.checkpoints", "electra_tf.tokenization",
    ],
}


def _modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__"), path


def _imports(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


MODULES = sorted(_modules())


def test_the_package_has_modules():
    names = [m for m, _ in MODULES]
    assert "electra_tf.layers.attention" in names and "electra_tf.config" in names


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_flow_downward(module, path):
    imported = list(_imports(path))
    for prefix, banned in FORBIDDEN.items():
        if module == prefix or module.startswith(prefix + "."):
            for name in imported:
                if name in LEAVES and name != module:
                    continue
                if name.startswith(prefix + "."):  # its own package
                    continue
                assert not any(name.startswith(b) or name == b.rstrip(".") for b in banned), (
                    f"{module} imports {name}"
                )
    for name in imported:
        assert not name.startswith(("run_pretraining", "run_finetuning")), module
        assert name != "absl.flags", f"{module} parses flags; only run_*.py may"


def test_public_names_resolve():
    import electra_tf

    for name in electra_tf.__all__:
        # `pipeline` is the callable module `electra_tf.pipeline` once the
        # CLI module has been imported, the function before.
        assert getattr(electra_tf, name).__name__ in (name, f"electra_tf.{name}")
        assert callable(getattr(electra_tf, name))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        electra_tf.Nope
