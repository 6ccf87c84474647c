"""Stage 5, building: the check run, what is stale, the jobs, state and manifest, reproducibility.

The build graph declares each output's inputs in one place; the build runs only
what changed and writes every output atomically, so a failed build never destroys
the last good one. It does not inspect finished outputs (that is ``verification``).
"""
