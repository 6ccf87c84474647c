"""Stage 3, assembly: the paper and the annotated bibliography as Markdown, from checked inputs.

Sandboxed Jinja templates place sections, notes and settings; note and section
text is inserted as data, never rendered as a template. It does not run pandoc.
"""
