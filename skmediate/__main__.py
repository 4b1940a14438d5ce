"""``python -m skmediate``: the same as the ``skmediate`` command."""

import sys

from skmediate._report.cli import main

if __name__ == "__main__":
    sys.exit(main())
