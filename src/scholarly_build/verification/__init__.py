"""Stage 6, verification: the finished outputs as a reader meets them.

The reader view (Chromium for HTML, poppler for PDF) and the parity of the
formats. It reads the outputs in ``build/`` (writing only its screenshots,
under ``build/screenshots/``) and never changes an output.
"""
