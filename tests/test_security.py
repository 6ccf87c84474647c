"""Untrusted notes, note fields, BibTeX fields and sections cannot run code, read files or plant scripts."""

from __future__ import annotations

import base64
import re
import secrets
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from scholarly_build.building.build import BuildOptions
from scholarly_build.core.problems import BuildFailed
from scholarly_build.inputs.notes import split_front_matter
from scholarly_build.rendering import render

from .conftest import copy_mini, quiet_build

HOSTNAME_FILE = Path("/etc/hostname")
HOSTNAME = HOSTNAME_FILE.read_text().strip() if HOSTNAME_FILE.is_file() else ""


def inline_attacks(tag: str, secret_file: Path) -> str:
    """Attacks that fit on one line (for YAML fields and table cells)."""
    return (
        f"{tag}HSTART\\input{{/etc/hostname}}{tag}HEND "
        f"{tag}SSTART\\input{{{secret_file}}}{tag}SEND "
        "\\immediate\\write18{touch pwned} "
        "`<script>alert(1)</script>`{=html} <script>alert(2)</script> <img src=x onerror=alert(3)> "
        "[click](javascript:alert(4)) ![](/etc/passwd) "
        f"{tag}JSTART{{{{ 7*7 }}}}{tag}JEND"
    )


def block_attacks(tag: str, secret_file: Path) -> str:
    """Attacks as Markdown blocks (for note bodies and sections)."""
    return f"""
{inline_attacks(tag, secret_file)}

```{{=latex}}
\\immediate\\write18{{touch pwned}}
\\input{{{secret_file}}}
```

<script>alert(5)</script>

<img src=x onerror=alert(6)>

[link](javascript:alert(7))

![passwd](/etc/passwd)

{{{{ 7*7 }}}}
"""


def edit_front_matter(path: Path, change) -> None:
    parts = split_front_matter(path.read_text())
    assert parts is not None
    front, body, _ = parts
    data = yaml.safe_load(front)
    change(data)
    path.write_text("---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n" + body)


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside the project whose contents must never reach an output."""
    path = tmp_path_factory.mktemp("outside") / "secret.txt"
    path.write_text(f"SECRET-{secrets.token_hex(8)}\n")
    return path


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory, secret_file: Path) -> Path:
    """The mini fixture with attacks in a note body, note fields and a section, built in full."""
    root = copy_mini(tmp_path_factory.mktemp("attacked") / "mini")
    beta = root / "bib/notes/beta2016.md"
    beta.write_text(beta.read_text() + "\n" + block_attacks("NOTEBODY", secret_file))

    def how(data: dict) -> None:  # type: ignore[type-arg]
        data["uses"]["alpha2018"][0]["how"] = inline_attacks("HOW", secret_file)

    def stance(data: dict) -> None:  # type: ignore[type-arg]
        data["claims"][0]["stance"] = inline_attacks("STANCE", secret_file)

    edit_front_matter(root / "bib/notes/gamma1999.md", how)
    edit_front_matter(root / "bib/notes/alpha2018.md", stance)
    section = root / "manuscript/sections/02-body.md"
    section.write_text(section.read_text() + "\n" + block_attacks("SECTION", secret_file))
    quiet_build(root)
    return root


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def all_output_text(root: Path) -> dict[str, str]:
    """Every output's text: HTML and TeX as written, PDF via pdftotext, DOCX as its XML parts."""
    out: dict[str, str] = {}
    for path in sorted((root / "build").iterdir()):
        if path.suffix in (".html", ".tex"):
            out[path.name] = path.read_text(encoding="utf-8")
        elif path.suffix == ".pdf":
            out[path.name] = pdf_text(path)
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as z:
                out[path.name] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return out


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_elements(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


HTML = ["paper.html", "annotated-bibliography.html"]
PLACES = {"NOTEBODY": "annotated-bibliography", "HOW": "annotated-bibliography", "STANCE": "paper",
          "SECTION": "paper"}


# --- the attacked build -----------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("name", ["paper.pdf", "paper.html", "paper.tex", "paper.docx", "annotated-bibliography.pdf",
                                  "annotated-bibliography.html", "annotated-bibliography.tex"])
def test_attacked_project_still_builds(attacked: Path, name: str) -> None:
    """Attacks are only text: the project builds every output."""
    assert (attacked / "build" / name).is_file()


@pytest.mark.integration
def test_write18_does_not_run(attacked: Path) -> None:
    """`\\immediate\\write18{touch pwned}` creates no file anywhere in the project (or the cwd)."""
    assert sorted(str(p) for p in attacked.rglob("pwned")) == []
    assert not (Path.cwd() / "pwned").exists()


@pytest.mark.integration
def test_outside_file_is_not_read(attacked: Path, secret_file: Path) -> None:
    """`\\input{/outside/secret.txt}` never brings the file's contents into any output."""
    token = secret_file.read_text().strip()
    assert [name for name, text in all_output_text(attacked).items() if token in text] == []


@pytest.mark.integration
@pytest.mark.parametrize(("tag", "pdf"), [(t, f"{d}.pdf") for t, d in PLACES.items()])
def test_hostname_input_prints_literally_in_pdf(attacked: Path, tag: str, pdf: str) -> None:
    """`\\input{/etc/hostname}` appears in the PDF as the literal command, not the host name."""
    text = flat(pdf_text(attacked / "build" / pdf))
    found = re.findall(rf"{tag}HSTART(.*?){tag}HEND", text)
    assert found
    assert {f.replace(" ", "") for f in found} == {"\\input{/etc/hostname}"}


@pytest.mark.integration
@pytest.mark.skipif(not HOSTNAME, reason="no /etc/hostname on this machine")
def test_hostname_text_absent_from_pdfs(attacked: Path) -> None:
    """The host name (read from /etc/hostname) is no more frequent, as a word, in the PDFs than in the inputs."""
    word = re.compile(rf"(?<!\w){re.escape(HOSTNAME)}(?!\w)")
    sources = "".join(p.read_text(errors="replace") for p in attacked.rglob("*") if p.is_file()
                      and "build" not in p.relative_to(attacked).parts)
    allowed = len(word.findall(sources))
    pdfs = ("paper.pdf", "annotated-bibliography.pdf")
    found = {p: len(word.findall(pdf_text(attacked / "build" / p))) for p in pdfs}
    assert {p: n for p, n in found.items() if n > allowed} == {}


@pytest.mark.integration
@pytest.mark.parametrize("name", ["paper.tex", "annotated-bibliography.tex"])
def test_tex_has_no_raw_commands_from_inputs(attacked: Path, name: str) -> None:
    """Notes and sections reach the .tex escaped: no raw \\immediate, \\write18 or \\input{/...}."""
    tex = (attacked / "build" / name).read_text()
    assert [c for c in ("\\immediate", "\\write18", "\\input{/") if c in tex] == []
    assert "\\textbackslash" in tex  # the commands are there, as text


@pytest.mark.integration
@pytest.mark.parametrize("name", HTML)
def test_html_has_no_script_elements(attacked: Path, name: str) -> None:
    """No `<script>` element reaches the HTML from data (raw HTML, raw attributes and code all end up as
    text): the only script is the build's own citation-card script, byte for byte templates/html/cards.js."""
    html = (attacked / "build" / name).read_text(encoding="utf-8")
    elements = html_elements(attacked / "build" / name).elements
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S | re.I)
    card_script = (attacked / "templates/html/cards.js").read_text(encoding="utf-8")
    assert len([tag for tag, _ in elements if tag == "script"]) == len(scripts)
    assert [s for s in scripts if s != "\n" + card_script] == []


@pytest.mark.integration
@pytest.mark.parametrize("name", HTML)
def test_html_has_no_event_handlers(attacked: Path, name: str) -> None:
    """No element carries an `on...` attribute such as onerror."""
    elements = html_elements(attacked / "build" / name).elements
    assert [(tag, k) for tag, attrs in elements for k in attrs if k.lower().startswith("on")] == []


@pytest.mark.integration
@pytest.mark.parametrize("name", HTML)
def test_html_has_no_javascript_urls(attacked: Path, name: str) -> None:
    """No href or src uses the javascript: scheme; the links were unwrapped to their text."""
    elements = html_elements(attacked / "build" / name).elements
    urls = [v for _, attrs in elements for k, v in attrs.items() if k in ("href", "src")]
    assert [u for u in urls if u.strip().lower().startswith("javascript:")] == []


@pytest.mark.integration
def test_docx_has_no_javascript_links(attacked: Path) -> None:
    """The DOCX relationships hold no javascript: target."""
    with zipfile.ZipFile(attacked / "build/paper.docx") as z:
        rels = z.read("word/_rels/document.xml.rels").decode()
    assert "javascript:" not in rels


@pytest.mark.integration
@pytest.mark.parametrize("name", HTML)
def test_local_image_is_not_embedded(attacked: Path, name: str) -> None:
    """`![](/etc/passwd)` embeds nothing: only the declared figure is an image, and passwd is not in the HTML."""
    parsed = html_elements(attacked / "build" / name)
    sources = [attrs.get("src", "") for tag, attrs in parsed.elements if tag == "img"]
    assert len(sources) == (1 if name == "paper.html" else 0)
    for src in sources:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert "root:x:0:0" not in (attacked / "build" / name).read_text()
    assert "[image not included: /etc/passwd]" in "".join(parsed.text)


@pytest.mark.integration
@pytest.mark.parametrize(("tag", "doc"), list(PLACES.items()))
def test_jinja_in_inputs_prints_literally(attacked: Path, tag: str, doc: str) -> None:
    """`{{ 7*7 }}` in a note body, a note field or a section is printed as written, not as 49."""
    text = flat("".join(html_elements(attacked / "build" / f"{doc}.html").text))
    assert re.findall(rf"{tag}JSTART(.*?){tag}JEND", text) == ["{{ 7*7 }}"]


# --- attacks in BibTeX fields ---------------------------------------------------------

@pytest.fixture(scope="module")
def bib_attacked(tmp_path_factory: pytest.TempPathFactory, secret_file: Path) -> tuple[Path, BuildFailed | None]:
    """The mini fixture with TeX/HTML attacks in a BibTeX title and note; built, failure kept."""
    root = copy_mini(tmp_path_factory.mktemp("bib-attacked") / "mini")
    bib = root / "bib/references.bib"
    attack = (f"TSTART \\input{{/etc/hostname}} \\input{{{secret_file}}} \\immediate\\write18{{touch pwned}} "
              "<script>alert(1)</script> <img src=x onerror=alert(2)> TEND")
    bib.write_text(bib.read_text().replace(
        "title        = {What Do We Know?},",
        f"title        = {{What Do We Know? {attack}}},\n  note         = {{{attack}}},"))
    try:
        quiet_build(root)
    except BuildFailed as exc:
        return root, exc
    return root, None


@pytest.mark.integration
def test_bibtex_attack_runs_nothing_and_reads_nothing(bib_attacked: tuple[Path, BuildFailed | None],
                                                      secret_file: Path) -> None:
    """A BibTeX field cannot run shell commands or pull an outside file into any output."""
    root, _ = bib_attacked
    token = secret_file.read_text().strip()
    assert sorted(str(p) for p in root.rglob("pwned")) == []
    assert [name for name, text in all_output_text(root).items() if token in text] == []


@pytest.mark.integration
@pytest.mark.parametrize("name", HTML)
def test_bibtex_attack_plants_no_html(bib_attacked: tuple[Path, BuildFailed | None], name: str) -> None:
    """HTML in a BibTeX title reaches the HTML as text: no script element, no event handler."""
    root, _ = bib_attacked
    elements = html_elements(root / "build" / name).elements
    assert [(tag, k) for tag, attrs in elements for k in attrs if tag == "script" or k.startswith("on")] == []


@pytest.mark.integration
def test_bibtex_latex_reaches_tex_escaped(bib_attacked: tuple[Path, BuildFailed | None]) -> None:
    """A BibTeX title with `\\input{/etc/hostname}` builds, and the .tex carries no raw `\\input`."""
    root, failure = bib_attacked
    assert failure is None
    assert "\\input{" not in (root / "build/paper.tex").read_text()


# --- pandoc attribute syntax ---------------------------------------------------------

@pytest.mark.integration
def test_attribute_syntax_plants_no_event_handlers(project_copy: Path) -> None:
    """`[x](https://example.org){onmouseover=alert(1)}` and `[x]{onclick=...}` give no on... attributes."""
    section = project_copy / "manuscript/sections/02-body.md"
    section.write_text(section.read_text() + "\n\n[hover](https://example.org){onmouseover=alert(1)} "
                       "and [span]{onclick=alert(2)}.\n\n::: {onmouseenter=alert(3)}\nDiv.\n:::\n")
    quiet_build(project_copy, BuildOptions(documents=("paper",), formats=("html",)))
    elements = html_elements(project_copy / "build/paper.html").elements
    assert [(tag, k) for tag, attrs in elements for k in attrs if k.lower().startswith("on")] == []


# --- TeX's own sandbox -----------------------------------------------------------------

@pytest.mark.parametrize(("name", "value"), [("openin_any", "p"), ("openout_any", "p"), ("shell_escape", "f")])
def test_tex_env_is_paranoid(name: str, value: str) -> None:
    """TeX runs with paranoid file access and no shell escape, whatever the caller passes."""
    assert render.tex_env({name: "a"})[name] == value


def test_tex_env_keeps_the_build_environment() -> None:
    """tex_env keeps the build's reproducibility variables."""
    env = render.tex_env({"SOURCE_DATE_EPOCH": "1704067200"})
    assert env["SOURCE_DATE_EPOCH"] == "1704067200"
