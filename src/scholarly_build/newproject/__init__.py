"""Starting a project: ``init DIR`` writes a new paper from the skeleton shipped in this package.

It sits on top, beside ``cli.py``: it may use every stage, and no stage uses it.
"""
