"""``python -m fbcd_lab``: see :mod:`fbcd_lab.cli`."""

import sys

from fbcd_lab.cli import main

sys.exit(main())
