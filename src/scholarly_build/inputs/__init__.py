"""Stage 1, inputs: reading the project into data with line numbers.

The settings, the JSON Schemas and their validation, YAML that remembers lines,
the BibTeX scanner and pybtex loading, notes, the sources' text and CSL styles.
Inputs are untrusted: they are read as data only, every fault becomes a located
problem, and nothing here judges the data across files (that is ``checks``) or
writes outside ``build/.cache``.
"""
