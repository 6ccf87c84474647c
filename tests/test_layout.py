"""The package's layout and code standard, so that neither drifts (issue 13).

Every import inside ``src/scholarly_build`` (at module level or inside a
function) is read with ``ast``; a module may import its own stage or an earlier
one, never a later one. The command line sits on top of all stages.

The code standard, read the same way: every module has a docstring, every public
function, class and method has one, and no function is longer than
``MAX_FUNCTION_LINES`` lines except a scanner's main loop (``LONG_ALLOWED``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "scholarly_build"
STAGES = ["core", "inputs", "checks", "assembly", "rendering", "building", "verification"]
TOP = len(STAGES)  # cli.py, watch.py, __main__.py and the top-level subpackages
ON_TOP = ["newproject", "preview"]  # subpackages beside cli.py: they may import every stage
DATA_DIRS = ["templates"]  # package data, no Python: the default templates


def stage_of(module: str) -> int:
    """Stage index of a dotted module name inside the package (TOP for the top-level modules)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return TOP


def module_name(path: Path) -> str:
    """Dotted module name of a file in the package (``scholarly_build.checks.rules``)."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("scholarly_build"):
                if target in ("scholarly_build", *(f"scholarly_build.{s}" for s in STAGES)):
                    found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
                else:
                    found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("scholarly_build")]
    return found


def test_every_module_is_in_a_stage() -> None:
    """Only the command line lives at the top; everything else is in a stage's folder."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "watch.py"]
    dirs = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert dirs == sorted(STAGES + ON_TOP + DATA_DIRS)
    assert not list((PACKAGE / "templates").rglob("*.py"))


def test_no_import_runs_from_an_earlier_stage_to_a_later_one() -> None:
    """Data flows one way: inputs -> checks -> assembly -> rendering -> building -> verification."""
    backwards = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = stage_of(module_name(path))
        for line, target in imports(path):
            if stage_of(target) > here:
                backwards.append(f"{path.relative_to(PACKAGE)}:{line}: {module_name(path)} imports {target}")
    assert backwards == []


def test_the_checker_sees_a_backward_import(tmp_path: Path) -> None:
    """The import reader itself: a function-level import of a later stage is found."""
    src = PACKAGE / "core" / "problems.py"
    text = "def f():\n    from scholarly_build.building.build import build\n"
    fake = tmp_path / "x.py"
    fake.write_text(text, encoding="utf-8")
    assert [t for _, t in imports_of_text(text)] == ["scholarly_build.building.build"]
    assert stage_of("scholarly_build.building.build") > stage_of(module_name(src))


def imports_of_text(text: str) -> list[tuple[int, str]]:
    """(line, module) of every ``from scholarly_build... import`` in a source text."""
    tree = ast.parse(text)
    return [
        (n.lineno, n.module or "")
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("scholarly_build")
    ]


# --- the code standard -------------------------------------------------------------------

MAX_FUNCTION_LINES = 60  # from the ``def`` line to the last line, docstring included

# Functions allowed to be longer, as "path inside the package::qualified name".
LONG_ALLOWED = {
    "inputs/bibscan.py::_Scanner.entry",  # the BibTeX scanner's main loop: one state machine, read top to bottom
}

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def definitions(tree: ast.AST, prefix: str = "") -> list[tuple[str, Definition]]:
    """(qualified name, node) of every function and class in ``tree``, nested ones included."""
    found: list[tuple[str, Definition]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            found.append((name, node))
            found += definitions(node, f"{name}.")
        else:
            found += definitions(node, prefix)
    return found


def public_undocumented(tree: ast.Module) -> set[str]:
    """Public module-level functions and classes, and public methods of public classes, without a docstring.

    A name starting with ``_`` is private (dunder methods included); what is nested
    in a function is private to it.
    """
    missing: set[str] = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        if ast.get_docstring(node) is None:
            missing.add(node.name)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    if ast.get_docstring(item) is None:
                        missing.add(f"{node.name}.{item.name}")
    return missing


def too_long(tree: ast.AST, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Qualified name -> length in lines of every function (methods and nested ones too) over ``limit``."""
    return {
        name: length
        for name, node in definitions(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > limit
    }


def package_files() -> list[tuple[str, ast.Module]]:
    """(path inside the package, parsed module) of every Python file of the package."""
    return [
        (path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_every_module_says_what_it_is_for() -> None:
    """A module docstring in every file, ``__init__.py`` of each stage included."""
    assert [rel for rel, tree in package_files() if not ast.get_docstring(tree)] == []


def test_every_public_function_and_class_has_a_docstring() -> None:
    """Every public module-level function and class, and every public method, has a docstring."""
    missing = [f"{rel}: {name}" for rel, tree in package_files() for name in sorted(public_undocumented(tree))]
    assert missing == [], "public names without a docstring"


def test_no_function_is_longer_than_the_limit() -> None:
    """At most MAX_FUNCTION_LINES lines a function, except the allowed scanner loop."""
    found = {f"{rel}::{name}": n for rel, tree in package_files() for name, n in too_long(tree).items()}
    assert {k: n for k, n in found.items() if k not in LONG_ALLOWED} == {}
    assert sorted(LONG_ALLOWED - set(found)) == [], "short enough (or gone) now: remove it from LONG_ALLOWED"


SAMPLE = '''"""Doc."""
class Public:
    """Doc."""
    def method(self):
        pass
    def _private(self):
        pass
class _Hidden:
    def visible(self):
        pass
def outer():
    """Doc."""
    def inner():
'''


def test_the_standard_checks_see_what_they_should() -> None:
    """The readers themselves: an undocumented method, a private class, a long nested function."""
    tree = ast.parse(SAMPLE + "\n".join(f"        x = {i}" for i in range(60)) + "\n")
    assert public_undocumented(tree) == {"Public.method"}
    assert too_long(tree) == {"outer": 63, "outer.inner": 61}
    assert public_undocumented(ast.parse('def f():\n    "Doc."\n')) == set()


def test_the_readme_lists_the_stages_in_order() -> None:
    """README's "How the code is organised" has one row per stage, in the order of ``STAGES``."""
    readme = (PACKAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How the code is organised", 1)[1].split("\n## ", 1)[0]
    folders = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert [f.removesuffix("/") for f in folders if f.endswith("/")] == STAGES + ON_TOP
