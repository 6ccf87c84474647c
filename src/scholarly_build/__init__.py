"""Reproducible scholarly builds: notes + BibTeX -> Jinja -> pandoc -> PDF, HTML, DOCX.

One subpackage per stage, in the order the data flows: ``core`` -> ``inputs`` ->
``checks`` -> ``assembly`` -> ``rendering`` -> ``building`` -> ``verification``;
``cli`` and ``watch`` sit on top. A module imports only from its own stage or an
earlier one, never a later one (``tests/test_layout.py`` enforces it; README,
"How the code is organised", has one line per stage).
"""

__version__ = "0.1.0"
