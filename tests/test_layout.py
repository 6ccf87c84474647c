"""The package's layout: data flows one way through the stages (issue 13).

Every import inside ``src/scholarly_build`` (at module level or inside a
function) is read with ``ast``; a module may import its own stage or an earlier
one, never a later one. The command line sits on top of all stages.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "scholarly_build"
STAGES = ["core", "inputs", "checks", "assembly", "rendering", "building", "verification"]
TOP = len(STAGES)  # cli.py, watch.py, __main__.py and the top-level subpackages
TOP_PACKAGES = ["preview"]  # commands on top of every stage, like cli.py


def stage_of(module: str) -> int:
    """Stage index of a dotted module name inside the package (TOP for the top-level modules)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return TOP


def module_name(path: Path) -> str:
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
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(STAGES + TOP_PACKAGES)



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
    tree = ast.parse(text)
    return [
        (n.lineno, n.module or "")
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("scholarly_build")
    ]
