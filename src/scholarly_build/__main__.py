import sys

from scholarly_build.cli import main

sys.exit(main())
