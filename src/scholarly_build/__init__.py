"""Reproducible scholarly builds: notes + BibTeX -> Jinja -> pandoc -> PDF, HTML, DOCX."""

__version__ = "0.1.0"
