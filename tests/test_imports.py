"""Imports flow one way (DESIGN.md, "Layout" and "Imports"), read from the source with `ast`.

- The leaf modules at the top of the package (`geometry.py`, `_*.py`) import no other jaxops
  module; `layers/`, `pde/` and `parallel/` import only from themselves and those leaves.
- No two modules import each other.
- No module imports an underscore-prefixed name from another module (names imported from
  the package-internal `_*.py` modules are fine; dunders such as `__version__` are not
  private).

Every import counts, at module level or inside a function (a late import is still a
dependency).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jaxops"
BASE = ("layers", "pde", "parallel")


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name → (file, is a package `__init__`) for every module of jaxops."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


MODULES = _modules()


def _base(name: str, is_package: bool, level: int) -> str:
    """The package a relative import of `level` dots resolves against, from module `name`."""
    parts = name.split(".") if is_package else name.split(".")[:-1]
    return ".".join(parts[: len(parts) - (level - 1)])


def _imports(name: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of every jaxops import in `name`; a name
    that is itself a module (`from . import grids`) counts as that module."""
    path, is_package = MODULES[name]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if _ours(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(filter(None, [_base(name, is_package, node.level), module]))
            if not _ours(module):
                continue
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((module, alias.name, node.lineno))
    return found


def _ours(module: str) -> bool:
    return module == "jaxops" or module.startswith("jaxops.")


IMPORTS = {name: _imports(name) for name in MODULES}


def _folder(module: str) -> str | None:
    """The subpackage (`layers`, `pde`, ...) or leaf module (`geometry`, `_config`) of a
    jaxops module; None for the package root `jaxops`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _is_leaf(module: str) -> bool:
    return module.count(".") == 1 and not MODULES[module][1]


def test_the_reader_sees_the_package():
    assert "jaxops.layers.constraints" in MODULES and "jaxops.geometry" in MODULES
    # Relative imports resolve: pde/grids.py imports `..geometry` and `.transforms`.
    targets = {m for m, _, _ in IMPORTS["jaxops.pde.grids"]}
    assert {"jaxops.geometry", "jaxops.pde.transforms"} <= targets


def test_leaves_import_no_other_jaxops_module():
    leaves = [name for name in MODULES if _is_leaf(name)]
    assert "jaxops.geometry" in leaves and "jaxops._config" in leaves
    bad = [
        f"{MODULES[name][0].relative_to(ROOT)}:{line} imports {target}"
        for name in leaves
        for target, _, line in IMPORTS[name]
    ]
    assert not bad, "leaf modules must stay leaves:\n" + "\n".join(bad)


@pytest.mark.parametrize("folder", BASE)
def test_base_packages_import_only_themselves_and_leaves(folder):
    bad = []
    for name in MODULES:
        if _folder(name) != folder:
            continue
        for target, _, line in IMPORTS[name]:
            if _folder(target) == folder or (target in MODULES and _is_leaf(target)):
                continue
            bad.append(f"{MODULES[name][0].relative_to(ROOT)}:{line} imports {target}")
    assert not bad, f"{folder}/ imports above itself:\n" + "\n".join(bad)


def test_no_two_modules_import_each_other():
    targets = {name: {t for t, _, _ in IMPORTS[name]} for name in MODULES}
    bad = [f"{a} <-> {b}" for a in MODULES for b in targets[a] if a < b and a in targets.get(b, ())]
    assert not bad, "mutual imports:\n" + "\n".join(bad)


def test_no_module_imports_private_names():
    bad = []
    for name in MODULES:
        for module, imported, line in IMPORTS[name]:
            if imported is None or not imported.startswith("_") or imported.startswith("__"):
                continue
            bad.append(
                f"{MODULES[name][0].relative_to(ROOT)}:{line} imports {imported} from {module}"
            )
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_the_command_is_the_top_layer():
    """Nothing imports `jaxops.cli`; the command reaches models and PDEs only through
    `jaxops.experiment` (no file of `cli/` imports `models` or `pde`, or names a registered
    model or problem in a string)."""
    from jaxops import models, pde

    names = set(models.MODELS.names()) | set(pde.PROBLEMS.names())
    bad = []
    for name in MODULES:
        command = _folder(name) == "cli"
        for target, _, line in IMPORTS[name]:
            if command and _folder(target) in ("models", "pde"):
                bad.append(f"{MODULES[name][0].relative_to(ROOT)}:{line} imports {target}")
            elif not command and _folder(target) == "cli":
                bad.append(f"{MODULES[name][0].relative_to(ROOT)}:{line} imports {target}")
        if command:
            tree = ast.parse(MODULES[name][0].read_text())
            bad += [
                f"{MODULES[name][0].relative_to(ROOT)}:{node.lineno} names {node.value!r}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and node.value in names
            ]
    assert not bad, "the command must stay a thin layer:\n" + "\n".join(bad)
