"""The real build of the mini fixture: pandoc, citeproc, the Lua filters and xelatex."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import zipfile
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pypandoc
import pytest

from scholarly_build.building.build import BuildOptions

from .conftest import quiet_build

pytestmark = pytest.mark.integration

OUTPUTS = [
    "paper.pdf", "paper.html", "paper.tex", "paper.docx",
    "annotated-bibliography.pdf", "annotated-bibliography.html", "annotated-bibliography.tex",
]
HTML_FILES = ["paper.html", "annotated-bibliography.html"]
KEYS = ["alpha2018", "beta2016", "gamma1999"]
ENTRY_TEXT = {"alpha2018": "Alpha, Ann. 2018", "beta2016": "Beta, Bob. 2016", "gamma1999": "Gamma, Gail. 1999"}


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout


def flat(text: str) -> str:
    """Collapse whitespace (line breaks in PDF/HTML text)."""
    return re.sub(r"\s+", " ", text)


class Tree(HTMLParser):
    """Collects ids, hrefs, tags with attributes, and the div ancestry of text."""

    VOID: ClassVar[set[str]] = {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.annotations: dict[str, tuple[str | None, str]] = {}  # marker -> (enclosing ref id, class)
        self._text: list[tuple[list[tuple[str, dict[str, str | None]]], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(str(attributes["href"]))
        if tag not in self.VOID:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        self._text.append((list(self.stack), data))

    def containers_of(self, marker: str) -> list[list[tuple[str, dict[str, str | None]]]]:
        """The element stacks enclosing each text run that contains ``marker``."""
        return [stack for stack, data in self._text if marker in data]

    @property
    def text(self) -> str:
        return "".join(data for _, data in self._text)


def parse_html(path: Path) -> Tree:
    tree = Tree()
    tree.feed(path.read_text(encoding="utf-8"))
    tree.close()
    return tree


def docx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    return re.sub(r"<[^>]+>", "", xml)


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_exists(built_mini: Path, name: str) -> None:
    """Each of the seven outputs is written to build/ and is not empty."""
    path = built_mini / "build" / name
    assert path.is_file() and path.stat().st_size > 0


def test_paper_pdf_has_reference_list(built_mini: Path) -> None:
    """The paper PDF ends with the CSL-formatted reference list."""
    text = flat(pdf_text(built_mini / "build/paper.pdf"))
    assert "Gamma, Gail. 1999. ‘What Do We Know?’ Annual Review of Examples 2: 115–44." in text


@pytest.mark.parametrize("word", ["Лукашэнка", "Šír"])
def test_paper_pdf_keeps_non_latin_text(built_mini: Path, word: str) -> None:
    """Cyrillic and Czech letters survive into the PDF's text layer."""
    assert word in pdf_text(built_mini / "build/paper.pdf")


def test_annotations_follow_their_entries_in_pdf(built_mini: Path) -> None:
    """In the annotated bibliography PDF each annotation marker sits after its entry, before the next entry."""
    text = flat(pdf_text(built_mini / "build/annotated-bibliography.pdf"))
    positions = []
    for key in KEYS:
        entry = text.index(ENTRY_TEXT[key])
        # pdftotext joins a word hyphenated at a line end: ANNOTATION-gamma1999 may read ANNOTATIONgamma1999.
        marker = re.search(rf"ANNOTATION-?\s?{key}", text)
        assert marker is not None, key
        positions += [entry, marker.start()]
    assert positions == sorted(positions)


def test_pdf_metadata(built_mini: Path) -> None:
    """pdfinfo shows the title, author and subject from paper.yaml."""
    info = subprocess.run(["pdfinfo", str(built_mini / "build/paper.pdf")], capture_output=True, text=True,
                          check=True).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    assert {k: fields[k].strip() for k in ("Title", "Author", "Subject")} == {
        "Title": "A Small Comparison", "Author": "Test Author", "Subject": "Fixture for the build tests"}


@pytest.mark.parametrize("name", ["paper.pdf", "annotated-bibliography.pdf"])
def test_pdf_fonts_are_embedded(built_mini: Path, name: str) -> None:
    """pdffonts lists at least one font and every font is embedded."""
    out = subprocess.run(["pdffonts", str(built_mini / "build" / name)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    header = out[0]
    emb = header.index("emb")
    rows = out[2:]
    assert rows
    assert [row[emb:emb + 3] for row in rows] == ["yes"] * len(rows)


@pytest.mark.parametrize("name", HTML_FILES)
def test_html_internal_links_resolve(built_mini: Path, name: str) -> None:
    """Every `href="#..."` (citations to #ref-..., cross-references, TOC) names an id in the same file."""
    tree = parse_html(built_mini / "build" / name)
    anchors = [h[1:] for h in tree.hrefs if h.startswith("#")]
    assert [a for a in anchors if a not in tree.ids] == []


def test_paper_html_has_internal_links(built_mini: Path) -> None:
    """The paper links its citations, cross-references and TOC inside the page (the check above is not vacuous)."""
    anchors = {h for h in parse_html(built_mini / "build/paper.html").hrefs if h.startswith("#")}
    assert {"#ref-gamma1999", "#fig:bars", "#tbl:comparison", "#sec:intro"} <= anchors


def test_paper_html_cites_every_reference(built_mini: Path) -> None:
    """The paper's citations link to #ref-<key> for each cited key."""
    tree = parse_html(built_mini / "build/paper.html")
    assert {h for h in tree.hrefs if h.startswith("#ref-")} == {f"#ref-{k}" for k in KEYS}


@pytest.mark.parametrize("key", KEYS)
def test_html_annotation_is_inside_its_entry(built_mini: Path, key: str) -> None:
    """The annotation's text lies in a div.annotation inside the div#ref-<key>."""
    tree = parse_html(built_mini / "build/annotated-bibliography.html")
    (stack,) = tree.containers_of(f"ANNOTATION-{key}")
    ids = [attrs.get("id") for _, attrs in stack]
    classes = [attrs.get("class") for _, attrs in stack]
    assert f"ref-{key}" in ids
    assert classes[-1] == "annotation"
    assert ids.index(f"ref-{key}") < len(stack) - 1


def output_texts(root: Path) -> dict[str, str]:
    build = root / "build"
    texts = {name: (build / name).read_text(encoding="utf-8") for name in OUTPUTS if name.endswith((".html", ".tex"))}
    texts |= {name: pdf_text(build / name) for name in OUTPUTS if name.endswith(".pdf")}
    texts["paper.docx"] = docx_text(build / "paper.docx")
    return texts


@pytest.fixture(scope="module")
def texts(built_mini: Path) -> dict[str, str]:
    """The text of every output (PDF via pdftotext, DOCX via its XML)."""
    return output_texts(built_mini)


@pytest.mark.parametrize("bad", ["???", "[WARNING]", "(gamma1999?)", "??"])
def test_no_unresolved_markers(texts: dict[str, str], bad: str) -> None:
    """No output shows citeproc's `???`/`(key?)`, the cross-reference `??` or a pandoc warning."""
    assert sorted(texts) == sorted(OUTPUTS)
    assert [name for name, text in texts.items() if bad in text] == []


def test_no_unresolved_citation_pattern(texts: dict[str, str]) -> None:
    """No output contains an unresolved citation of the form `(key?)`."""
    pattern = re.compile(r"\(\w[\w:./-]*\?\)")
    assert {n: pattern.findall(t) for n, t in texts.items() if pattern.search(t)} == {}


def test_pandoc_printed_no_warnings(built_mini: Path) -> None:
    """pandoc wrote no warnings log for any render."""
    assert sorted(p.name for p in (built_mini / "build/.work").rglob("*.pandoc.log")) == []


def test_figure_is_embedded_as_data_uri(built_mini: Path) -> None:
    """The paper HTML carries the figure as an inline PNG data URI (no external file)."""
    tree = parse_html(built_mini / "build/paper.html")
    sources = [attrs.get("src") or "" for tag, attrs in tree.tags if tag == "img"]
    assert len(sources) == 1
    assert sources[0].startswith("data:image/png;base64,")
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert png == (built_mini / "build/figures/bars.png").read_bytes()


@pytest.mark.parametrize("label", ["Figure 1", "Table 1"])
def test_crossrefs_render_in_html(built_mini: Path, label: str) -> None:
    """`@fig:bars`/`@tbl:comparison` become links reading "Figure 1"/"Table 1" in HTML."""
    tree = parse_html(built_mini / "build/paper.html")
    assert f"See {'Figure 1'} and {'Table 1'}." in flat(tree.text)
    assert label in flat(tree.text)


def test_crossrefs_render_in_pdf(built_mini: Path) -> None:
    """The PDF text reads "See Figure 1 and Table 1" and "As Figure 1 shows"."""
    text = flat(pdf_text(built_mini / "build/paper.pdf"))
    assert "See Figure 1 and Table 1." in text
    assert "As Figure 1 shows" in text


def test_capitalised_crossref_renders_in_html(built_mini: Path) -> None:
    """`@Fig:bars` at a sentence start resolves to the same figure."""
    assert "As Figure 1 shows" in flat(parse_html(built_mini / "build/paper.html").text)


def test_docx_contains_text(built_mini: Path) -> None:
    """The DOCX holds the paper's text, including non-Latin letters and the references."""
    text = docx_text(built_mini / "build/paper.docx")
    assert "Лукашэнка" in text
    assert "Gamma, Gail. 1999." in text


@pytest.mark.parametrize("suffix", ["html", "docx", "pdf"])
def test_reconstructed_entries_are_marked(built_mini: Path, suffix: str) -> None:
    """alpha2018 and beta2016 (metadata: reconstructed) carry "†" in the paper's reference list,
    gamma1999 (complete) does not, and one explanatory line follows the list, in every format."""
    path = built_mini / f"build/paper.{suffix}"
    if suffix == "html":
        text = flat(parse_html(path).text)
    elif suffix == "docx":
        text = flat(docx_text(path))
    else:
        text = flat(pdf_text(path))
    references = text[text.rindex("References") :]
    assert references.count("†") == 3
    assert "† Bibliographic data reconstructed" in references
    # Entries are sorted: Alpha, Beta, then Gamma, which the legend follows.
    assert "†" not in references[references.index("Gamma, Gail. 1999.") : references.index("† Bibliographic")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_output_hashes(built_mini: Path) -> None:
    """manifest.json lists exactly the seven outputs with their sha256."""
    manifest = json.loads((built_mini / "build/manifest.json").read_text())
    assert manifest["outputs"] == {name: sha256(built_mini / "build" / name) for name in sorted(OUTPUTS)}


def test_manifest_input_hashes(built_mini: Path) -> None:
    """manifest.json lists every input (settings, bib, notes, sections, templates, figures) with its sha256."""
    manifest = json.loads((built_mini / "build/manifest.json").read_text())
    expected = {"manuscript/paper.yaml", "bib/references.bib", "figures/bars.py", "figures/data/bars.csv",
                "manuscript/sections/01-intro.md", "manuscript/sections/02-body.md",
                *(f"bib/notes/{k}.md" for k in KEYS),
                *(str(p.relative_to(built_mini)) for p in (built_mini / "templates").rglob("*") if p.is_file())}
    assert manifest["inputs"] == {name: sha256(built_mini / name) for name in sorted(expected)}


def test_manifest_names_pandoc_version(built_mini: Path) -> None:
    """manifest.json records the pinned pandoc's version and the CSL file."""
    manifest = json.loads((built_mini / "build/manifest.json").read_text())
    assert manifest["tools"]["pandoc"] == pypandoc.get_pandoc_version()
    assert manifest["csl"] == "chicago-author-date.csl"


def test_pdf_creation_date_is_source_date_epoch(built_mini: Path) -> None:
    """Outside git (tmp dir) the PDF is dated by SOURCE_DATE_EPOCH or the documented fallback 2024-01-01."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1704067200"))
    manifest = json.loads((built_mini / "build/manifest.json").read_text())
    info = subprocess.run(["pdfinfo", "-isodates", str(built_mini / "build/paper.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert manifest["source_date_epoch"] == epoch
    assert re.search(r"CreationDate:\s+" + datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S"), info)


def test_configured_crossref_prefix_is_not_a_citation(project_copy: Path) -> None:
    """A cross-reference with a prefix configured in paper.yaml is not rendered as a citation."""
    settings = project_copy / "manuscript/paper.yaml"
    settings.write_text(settings.read_text() + 'crossref_prefixes: ["fig:", "tbl:", "eq:", "sec:", "map:"]\n')
    section = project_copy / "manuscript/sections/02-body.md"
    section.write_text(section.read_text() + "\n\nAs @map:x shows.\n")
    quiet_build(project_copy, BuildOptions(documents=("paper",), formats=("html",)))
    html = (project_copy / "build/paper.html").read_text()
    assert 'data-cites="map:x"' not in html


def test_unicode_math_is_loaded_only_for_a_document_with_math(built_mini: Path, tmp_path: Path) -> None:
    """No math: fontspec alone (unicode-math costs ~0.6 s per XeLaTeX pass). Math in a section, or in a
    reference's title, loads unicode-math in that document only, and the PDF shows the formula."""
    from scholarly_build.building.build import BuildOptions

    from .conftest import copy_mini, quiet_build

    assert "unicode-math" not in (built_mini / "build/paper.tex").read_text()
    assert "\\usepackage{fontspec}" in (built_mini / "build/paper.tex").read_text()
    root = copy_mini(tmp_path / "mini")
    section = next(iter(sorted((root / "manuscript/sections").glob("*.md"))))
    section.write_text(section.read_text() + "\n\nThe ratio $\\alpha = \\frac{x}{y}$ holds.\n")
    quiet_build(root, BuildOptions(formats=("pdf",)))
    paper_tex = (root / "build/paper.tex").read_text()
    assert "\\usepackage{unicode-math}" in paper_tex and "\\frac{x}{y}" in paper_tex
    assert re.search("The ratio [α𝛼] = ", pdf_text(root / "build/paper.pdf"))  # unicode-math sets italic 𝛼
    assert "unicode-math" not in (root / "build/annotated-bibliography.tex").read_text()
    bib = root / "bib/references.bib"
    bib.write_text(bib.read_text().replace("title = {", "title = {On $\\beta$ and ", 1))
    quiet_build(root, BuildOptions(formats=("pdf",)))
    assert "\\usepackage{unicode-math}" in (root / "build/annotated-bibliography.tex").read_text()
    assert re.search("On [β𝛽] and", flat(pdf_text(root / "build/annotated-bibliography.pdf")))
