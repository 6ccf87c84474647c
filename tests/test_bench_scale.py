"""`invoke bench --scale`: the generated projects are valid, cite every note, and grow with the size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from scholarly_build.building.pipeline import check_project
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.project import load_project

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # bench_scale imports its generator as `scale`
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_project_checks_clean_and_cites_every_note(tmp_path: Path) -> None:
    """A small generated project passes `check` with no finding; every generated note is cited in the sections."""
    scale = _module("scale")
    root = scale.generate(tmp_path / "p", 7, words_per_note=100)
    notes = sorted(p.stem for p in (root / "bib/notes").glob("*.md"))
    assert len(notes) == 7 and set(scale.WORKS) <= set(notes)
    text = "".join(p.read_text() for p in sorted((root / "manuscript/sections").glob("*.md")))
    assert all(f"@{key}" in text for key in notes if key not in scale.WORKS)
    project = load_project(root)
    problems = Problems(project.root)
    check_project(project, problems)
    assert [p.format() for p in problems] == []


def test_paper_length_grows_linearly_with_the_notes(tmp_path: Path) -> None:
    """Twice the notes, twice the prose; the same size always gives the same project."""
    scale = _module("scale")

    def words(n: int, name: str) -> int:
        root = scale.generate(tmp_path / name, n, words_per_note=200)
        return sum(len(p.read_text().split()) for p in (root / "manuscript/sections").glob("*.md"))

    assert words(12, "a") == words(12, "b")
    assert 1.8 < words(22, "c") / words(12, "d") < 2.2


def test_slope_is_the_growth_exponent() -> None:
    """Quadratic growth has slope 2, linear 1; a stage that never ran has none."""
    bench = _module("bench_scale")
    assert bench.slope([50, 250, 1000], [1.0, 25.0, 400.0]) == pytest.approx(2.0)
    assert bench.slope([50, 250], [0.5, 2.5]) == pytest.approx(1.0)
    assert bench.slope([50, 250], [0.0, 0.0]) is None
