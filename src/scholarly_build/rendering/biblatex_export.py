"""The biblatex path: a .bib whose `annotation` fields carry the notes' annotations.

Annotations are Markdown; they are converted to LaTeX by pandoc with raw TeX and
HTML disabled (so note text reaches LaTeX escaped), in one batched call. Keys,
types and field names are written only when plain; fields keep only text
macros. It must never pass a note's or an entry's text to LaTeX unescaped.
"""

from __future__ import annotations

import re

from scholarly_build.core.pandoc import READER, run
from scholarly_build.core.problems import BuildFailed
from scholarly_build.inputs.bibliography import Bibliography
from scholarly_build.inputs.notes import Note

_SEPARATOR = "SCHOLARLYBUILDSEPARATOR"


def _annotation(note: Note) -> str:
    """The annotation, followed by the provenance line when the note has one."""
    return f"{note.body}\n\n*Provenance:* {note.provenance}" if note.provenance else note.body


def annotations_as_latex(notes: list[Note]) -> dict[str, str]:
    """Key -> the note's annotation (and provenance) as LaTeX, from one pandoc call for all notes."""
    if not notes:
        return {}
    markdown = "\n\n".join(f"{_SEPARATOR}{i}\n\n{_annotation(note)}" for i, note in enumerate(notes))
    latex = run(["--from", READER, "--to", "latex", "--wrap=none", "--sandbox"], stdin=markdown).stdout
    parts = re.split(rf"{_SEPARATOR}(\d+)\n", latex)
    out: dict[str, str] = {}
    for index, text in zip(parts[1::2], parts[2::2], strict=True):
        out[notes[int(index)].key] = text.strip()
    return out


# Text macros a .bib field may keep; every other control sequence is printed as text.
# None of these can open, write or read a file, define a macro or run Lua.
TEXT_MACROS = frozenset(
    """emph textit textbf textsc textsl textup textmd textrm textsf texttt textnormal
    textsuperscript textsubscript mkbibquote mkbibemph mkbibitalic mkbibbold enquote
    textendash textemdash textquoteleft textquoteright textquotedblleft textquotedblright
    textellipsis ldots dots textasciitilde textasciicircum textbackslash textbar textless textgreater
    textdollar textunderscore textbraceleft textbraceright textsection textparagraph textdagger
    textcopyright textregistered texttrademark textdegree textperthousand textbullet
    ss SS o O aa AA ae AE oe OE l L i j dh DH th TH ng NG
    c v u H r k d b t
    LaTeX TeX LaTeXe
    nopp relax space slash hyphen nobreakspace
    """.split()
)
# Control symbols kept: accents and escaped specials.
TEXT_SYMBOLS = frozenset("'\"`^~.=&%$#_{} -/,;:!@")
_CONTROL = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)


def safe_tex(value: str) -> str:
    r"""A field value as TeX that can only typeset text.

    Known text macros (accents, emphasis, dashes, escaped specials) are kept; any other
    control sequence becomes printed text, so ``\input``, ``\openout``, ``\directlua``,
    ``\catcode`` or ``\def`` in a field print instead of running. ``^`` (TeX's ``^^5c`` is
    a backslash), ``$`` (math), ``%``, ``#``, ``&`` and ``_`` print as themselves, and
    unbalanced braces are printed too.
    """
    text = _convert(value, escape_braces=False)
    return text if _balanced(text) else _convert(value, escape_braces=True)


def _convert(value: str, *, escape_braces: bool) -> str:
    out: list[str] = []
    pos = 0
    for m in _CONTROL.finditer(value):
        out.append(_plain(value[pos : m.start()], escape_braces))
        name = m.group(1)
        if (name.isalpha() and name in TEXT_MACROS) or (len(name) == 1 and name in TEXT_SYMBOLS):
            out.append("\\" + name)
        else:
            out.append(r"\textbackslash{}" + _plain(name, escape_braces=True))
        pos = m.end()
    out.append(_plain(value[pos:], escape_braces))
    return "".join(out)


_SPECIALS = {
    "\\": r"\textbackslash{}",
    "^": r"\textasciicircum{}",
    "$": r"\$",
    "%": r"\%",
    "#": r"\#",
    "&": r"\&",
    "_": r"\_",
}
_BRACES = {"{": r"\{", "}": r"\}"}


def _plain(text: str, escape_braces: bool) -> str:
    table = {**_SPECIALS, **_BRACES} if escape_braces else _SPECIALS
    return "".join(table.get(ch, ch) for ch in text)


def _balanced(text: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\.|[{}]", text, re.DOTALL):
        depth += {"{": 1, "}": -1}.get(m.group(0), 0)
        if depth < 0:
            return False
    return depth == 0


def _braced(value: str) -> str:
    # Values come from pybtex, which keeps their TeX as written: untrusted, so made safe.
    return "{" + safe_tex(value) + "}"


# biblatex reads these fields verbatim (every character printed as itself, so `_`, `%` and `#`
# in a URL stay as written); a line break, a backslash or a brace could end the verbatim
# reading, so those are percent-encoded and whitespace is folded.
VERBATIM_FIELDS = frozenset({"url", "urlraw", "doi", "eprint", "file", "pdf", "verba", "verbb", "verbc"})
_VERBATIM_ESCAPES = {"\\": "%5C", "{": "%7B", "}": "%7D"}


def safe_verbatim(value: str) -> str:
    """A verbatim field's value on one line with backslashes and braces percent-encoded (they would end it)."""
    folded = " ".join(value.split())
    return "".join(_VERBATIM_ESCAPES.get(ch, ch) for ch in folded)


# Entry keys, types and field names are written into the .bib as they are; only plain ones pass.
_KEY = re.compile(r"[\w:.+/-]+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def annotated_bib(bib: Bibliography, notes: dict[str, Note]) -> str:
    """All entries, in file order, with `annotation` set from the notes."""
    annotations = annotations_as_latex([notes[k] for k in sorted(notes) if k in bib.entries])
    chunks = []
    for key, entry in bib.entries.items():
        if not (_KEY.fullmatch(key) and _NAME.fullmatch(entry.type)):
            raise BuildFailed(
                f"{entry.path.name}:{entry.line}: error unsafe-key: entry key {key!r} has characters "
                "biblatex cannot take safely\n    hint: letters, digits and _ : . + - / only"
            )
        lines = [f"@{entry.type}{{{key},"]
        for role in ("author", "editor"):
            if entry.persons.get(role):
                lines.append(f"  {role} = {_braced(' and '.join(entry.persons[role]))},")
        for name, value in entry.fields.items():
            if name in ("annotation", "annote") or not _NAME.fullmatch(name):
                continue
            text = "{" + safe_verbatim(value) + "}" if name in VERBATIM_FIELDS else _braced(value)
            lines.append(f"  {name} = {text},")
        if key in annotations:
            lines.append(f"  annotation = {_braced(annotations[key])},")
        lines.append("}")
        chunks.append("\n".join(lines))
    return "% Generated by scholarly_build for the biblatex path; edit bib/ instead.\n\n" + "\n\n".join(chunks) + "\n"
