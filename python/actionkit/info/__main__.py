"""`python -m actionkit.info`: print the report to paste into a bug report."""

import os
import sys

from . import info

try:
    print(info(), flush=True)
except BrokenPipeError:
    # `python -m actionkit.info | head` closed the pipe early: not an error of ours.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)
