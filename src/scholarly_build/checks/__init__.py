"""Stage 2, checks: judging what ``inputs`` loaded, before anything is rendered.

Citations found on pandoc's AST, the citation-integrity rules, which findings a
user sees (select, ignore, inline markers), report formats, quotations and prose
against the sources' text, and figure captions against their data. Checks report
problems; they never change an input, assemble or render.
"""
