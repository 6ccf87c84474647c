"""assemble: the Markdown handed to pandoc, from notes, sections and the Jinja templates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from scholarly_build.assembly import assemble
from scholarly_build.checks.citations import stringify
from scholarly_build.core import pandoc
from scholarly_build.core.pandoc import parse_markdown
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.inputs.csl import resolve_csl
from scholarly_build.inputs.notes import load_notes
from scholarly_build.inputs.project import load_project

from .conftest import GOLDEN


def assembled(root: Path) -> tuple[str, str]:
    """(paper Markdown, annotated-bibliography Markdown) of the project at ``root``."""
    project = load_project(root)
    problems = Problems(root)
    notes = load_notes(project, problems)
    assert list(problems) == []
    paper, _ = assemble.assemble_paper(project, notes, Problems(root))
    bibliography = assemble.assemble_bibliography(project, notes, resolve_csl(project.csl, root).stem)
    return paper, bibliography


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_paper_markdown_matches_golden(project_copy: Path) -> None:
    """The mini paper's assembled Markdown equals tests/golden/mini-paper.md.

    The golden file is the exact Jinja output fed to pandoc 3.9 (pypandoc_binary 1.17).
    Regenerate after an intended template change with:
        UPDATE_GOLDEN=1 python -m pytest tests/test_assemble.py
    and review the diff.
    """
    check_golden("mini-paper.md", assembled(project_copy)[0])


def test_bibliography_markdown_matches_golden(project_copy: Path) -> None:
    """The mini annotated bibliography's Markdown equals tests/golden/mini-annotated-bibliography.md.

    The golden file is the exact Jinja output fed to pandoc 3.9 (pypandoc_binary 1.17).
    Regenerate after an intended template change with:
        UPDATE_GOLDEN=1 python -m pytest tests/test_assemble.py
    and review the diff.
    """
    check_golden("mini-annotated-bibliography.md", assembled(project_copy)[1])


def set_body(root: Path, key: str, body: str) -> None:
    path = root / "bib" / "notes" / f"{key}.md"
    text = path.read_text()
    head, _, _ = text.partition(f"\nANNOTATION-{key}")
    path.write_text(f"{head}\nANNOTATION-{key}\n\n{body}\n")


def test_note_jinja_syntax_prints_literally(project_copy: Path) -> None:
    """`{{ 7 * 7 }}` and `{% ... %}` in a note body are data, printed as written."""
    set_body(project_copy, "beta2016", "Value {{ 7 * 7 }} and {% if true %}yes{% endif %}.")
    bibliography = assembled(project_copy)[1]
    assert "Value {{ 7 * 7 }} and {% if true %}yes{% endif %}." in bibliography
    assert "Value 49" not in bibliography


def test_section_jinja_syntax_prints_literally(project_copy: Path) -> None:
    """`{{ 7 * 7 }}` in a section file is data, printed as written."""
    section = project_copy / "manuscript/sections/02-body.md"
    section.write_text(section.read_text() + "\n\nSection value {{ 7 * 7 }}.\n")
    paper = assembled(project_copy)[0]
    assert "Section value {{ 7 * 7 }}." in paper
    assert "Section value 49" not in paper


def insert_template_line(root: Path, name: str, line_no: int, text: str) -> None:
    path = root / "templates" / name
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(line_no - 1, text + "\n")
    path.write_text("".join(lines))


def test_undefined_template_variable_names_file_and_line(project_copy: Path) -> None:
    """A typo'd variable in a template is a BuildFailed at the template's file and line."""
    insert_template_line(project_copy, "paper.md.j2", 6, "{{ nosuch }}")
    with pytest.raises(BuildFailed) as info:
        assembled(project_copy)
    assert info.value.render() == ("templates/paper.md.j2:6: error template: template error: 'nosuch' is undefined\n"
                                   "    hint: check the variable names the template uses")


def test_undefined_attribute_in_partial_names_the_partial(project_copy: Path) -> None:
    """An error inside an included partial names the partial, not the including template."""
    path = project_copy / "templates/partials/sources-by-theme.md.j2"
    path.write_text(path.read_text().replace("group.theme.label", "group.theme.nolabel"))
    with pytest.raises(BuildFailed) as info:
        assembled(project_copy)
    assert info.value.render().startswith(
        "templates/partials/sources-by-theme.md.j2:3: error template: template error: "
        "'scholarly_build.inputs.project.Theme object' has no attribute 'nolabel'")


def test_template_syntax_error_names_file_and_line(project_copy: Path) -> None:
    """A Jinja syntax error gives the template path and line."""
    insert_template_line(project_copy, "annotated-bibliography.md.j2", 4, "{% if %}")
    with pytest.raises(BuildFailed) as info:
        assembled(project_copy)
    assert info.value.render() == ("templates/annotated-bibliography.md.j2:4: error template: template syntax error: "
                                   "Expected an expression, got 'end of statement block'")


def test_deleted_override_falls_back_to_the_default(project_copy: Path) -> None:
    """templates/ overrides the engine's defaults file by file: without the project's copy, the default serves."""
    before = assembled(project_copy)
    (project_copy / "templates/paper.md.j2").unlink()
    (project_copy / "templates/partials/comparison-table.md.j2").unlink()
    assert assembled(project_copy) == before


def test_missing_template_is_reported(project_copy: Path) -> None:
    """A template in neither templates/ nor the engine's defaults is a BuildFailed naming it."""
    (project_copy / "templates/paper.md.j2").write_text('{% include "partials/nosuch.md.j2" %}\n')
    with pytest.raises(BuildFailed) as info:
        assembled(project_copy)
    assert info.value.render() == (
        "templates/partials/nosuch.md.j2: error template: template 'partials/nosuch.md.j2' not found\n"
        "    hint: neither templates/ nor the engine's defaults have it: fix the name, or add the file to templates/")


def annotation_divs(markdown: str) -> list[tuple[str, str]]:
    """(key, plain text) of each Div inside the `.annotations` Div of the parsed document."""
    ast = parse_markdown(markdown)
    (container,) = [b for b in ast["blocks"] if b["t"] == "Div" and "annotations" in b["c"][0][1]]
    out = []
    for block in container["c"][1]:
        assert block["t"] == "Div"
        attrs: dict[str, Any] = dict(block["c"][0][2])
        out.append((attrs["key"], stringify(block["c"][1])))
    return out


def test_note_body_fence_cannot_close_the_annotation_div(project_copy: Path) -> None:
    """Lines starting with `:::` in a note body stay inside that note's annotation Div."""
    set_body(project_copy, "beta2016", ":::\n\n::::::\n\n  :::: {.evil}\n\nAFTER-FENCES")
    divs = annotation_divs(assembled(project_copy)[1])
    assert [key for key, _ in divs] == ["alpha2018", "beta2016", "gamma1999"]
    beta = dict(divs)["beta2016"]
    assert "AFTER-FENCES" in beta
    assert beta.endswith("Themes: Regime type, Russia.")


def test_unclosed_code_fence_in_note_stays_in_its_div(project_copy: Path) -> None:
    """An unclosed code fence in a note body does not swallow the following notes."""
    set_body(project_copy, "beta2016", "```\nunclosed code")
    assert [key for key, _ in annotation_divs(assembled(project_copy)[1])] == ["alpha2018", "beta2016", "gamma1999"]


def test_cell_filter_escapes_pipes_and_newlines() -> None:
    """Values placed in a pipe table lose newlines and escape `|`."""
    assert assemble._cell("a |  b\n c") == "a \\| b c"


def test_missing_section_file_is_reported(project_copy: Path) -> None:
    """A listed section that does not exist is `missing-file` at its line in paper.yaml."""
    (project_copy / "manuscript/sections/02-body.md").unlink()
    with pytest.raises(BuildFailed) as info:
        assembled(project_copy)
    assert [p.format().split("\n")[0] for p in info.value.problems] == [
        "manuscript/paper.yaml:27: error missing-file: section 02-body.md is listed but does not exist"]


def test_bibliography_metadata_lists_every_note(project_copy: Path) -> None:
    """The annotated bibliography's metadata nocites every note key and keeps the paper title."""
    meta = assemble.bibliography_metadata(load_project(project_copy), ["alpha2018", "gamma1999"])
    assert "nocite: '@alpha2018, @gamma1999'" in meta
    assert "subtitle: A Small Comparison" in meta
    assert "title: Annotated bibliography" in meta


@pytest.mark.parametrize(
    ("locators", "joined"),
    [
        (["sec. Legitimacy", "sec. Conclusion", "sec. Legitimacy"], "secs. Legitimacy\\; Conclusion"),
        (["p. 3", "pp. 12-14"], "pp. 3\\; 12-14"),
        (["n. 40", "n. 41"], "nn. 40\\; 41"),
        (["p. 3", "sec. 6.1"], "p. 3\\; sec. 6.1"),
        (["sec. Neo-communism, patrimonialism, sultanism"] * 4, "sec. Neo-communism, patrimonialism, sultanism"),
    ],
)
def test_join_locators(locators: list[str], joined: str) -> None:
    """Several claims citing one work give one locator: repeats dropped, a shared label made plural."""
    assert assemble.join_locators(locators) == joined


def test_table_cell_cites_each_work_once(project_copy: Path) -> None:
    """Claims in one cell share one citation whose locators pandoc reads as one suffix."""
    note = project_copy / "bib" / "notes" / "alpha2018.md"
    text = note.read_text(encoding="utf-8")
    extra = (
        '  - claim: "The regime is durable."\n    stance: "Durable regime"\n    theme: regime\n'
        '    locator: "sec. Conclusion"\n'
        '  - claim: "The ruler is central."\n    stance: "Central ruler"\n    theme: regime\n'
        '    locator: "sec. Regimes"\n---\n'
    )
    note.write_text(text.replace('    locator: "sec. Regimes"\n---\n', '    locator: "sec. Regimes"\n' + extra, 1))
    paper, _ = assembled(project_copy)
    row = next(line for line in paper.splitlines() if line.startswith("| Regime type"))
    assert row.count("@alpha2018") == 1
    cell = "Personalist regime (alpha2018); Durable regime; Central ruler [-@alpha2018, secs. Regimes\\; Conclusion]"
    assert cell in row
    bib = str(project_copy / "bib" / "references.bib")
    plain = pandoc.run(["-f", pandoc.READER, "-t", "plain", "--citeproc", "--bibliography", bib], stdin=row).stdout
    assert "(2018, secs. Regimes; Conclusion)" in plain
