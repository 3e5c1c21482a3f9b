"""``python -m fbcd_lab``: see :mod:`fbcd_lab.cli`."""

import sys

try:
    from fbcd_lab.cli import main
except KeyboardInterrupt:  # Ctrl-C while PyTorch is still being imported: nothing to keep, no traceback
    sys.exit(130)

sys.exit(main())
