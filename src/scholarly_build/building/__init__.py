"""Stage 5, building: the check run, what is stale, the scheduler, state and manifest, reproducibility.

The scheduler runs the figure scripts and renders by dependency on two workers.

The build graph declares each output's inputs in one place; the build runs only
what changed and writes every output atomically, so a failed build never destroys
the last good one. It does not inspect finished outputs (that is ``verification``).
"""
