"""`python -m actionkit.info`: print the report to paste into a bug report."""

from . import info

print(info())
