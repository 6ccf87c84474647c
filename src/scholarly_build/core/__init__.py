"""The ground floor: what every stage needs and nothing stage-specific.

Problems with their locations, atomic writes, hashing and the build lock, reading
user files as text, limits on external tools, the pandoc runner, tool versions and
the safety checks on paths and names. It imports no other stage of the package.
"""
