"""`python -m localeb`: see localeb/cli.py."""

import sys

from .cli import main

sys.exit(main())
