"""``python -m fbcd_lab``: see :mod:`fbcd_lab.cli`."""

import os
import signal
import sys

try:
    from fbcd_lab.cli import main
except KeyboardInterrupt:  # Ctrl-C while PyTorch is still being imported: nothing to keep, no traceback
    sys.exit(130)

status = main()
if status == 130:  # stopped and saved: another Ctrl-C while Python shuts down ends it at once, without a traceback
    signal.signal(signal.SIGINT, lambda number, frame: os._exit(130))
sys.exit(status)
