"""Live preview (`invoke preview`): build, serve build/ with a reload script, rebuild on each save.

It sits on top of every stage, beside ``cli.py``: it may import any of them and
must not be imported by them. It never changes what the build writes: the
reload script exists only in what the preview server sends to the browser.
"""
