"""Stage 4, rendering: assembled Markdown to HTML, DOCX, LaTeX and PDF, and the figures.

pandoc and latexmk (each through the limits in ``core.limits``), figure scripts,
the biblatex export and the LuaLaTeX sandbox. It renders what it is given and does
not decide what is stale (that is ``building``).
"""
