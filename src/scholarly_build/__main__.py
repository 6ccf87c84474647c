"""``python -m scholarly_build``: the command line's entry point, nothing more.

It hands ``sys.argv`` to :func:`scholarly_build.cli.main` and exits with its code;
it must hold no logic of its own (``cli`` does the parsing, the stages the work).
"""

import sys

from scholarly_build.cli import main

sys.exit(main())
