"""What every command-line tool shares: bad input ends the tool with one line that says
what was wrong (and exit status 1), not a traceback. ``ACTIONKIT_TRACEBACK=1`` shows the
traceback instead, for bug reports."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from ..config import ConfigError
from ..data.decode import DecodeError

# errors that describe the user's input; anything else is a bug and keeps its traceback
USER_ERRORS = (
    ConfigError,
    DecodeError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ValueError,
    KeyError,
    FloatingPointError,
)


def one_line_errors(prog: str) -> Callable:
    def wrap(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return main(argv) or 0
            except USER_ERRORS as e:
                if os.environ.get("ACTIONKIT_TRACEBACK") == "1":
                    raise
                text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
                if "Original Traceback" in text:  # re-raised from a DataLoader worker
                    text = text.strip().splitlines()[-1].split(": ", 1)[-1]
                print(f"{prog}: error: {text}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

        return run

    return wrap


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """``--trust-checkpoint``: the only way to unpickle arbitrary objects from a file."""
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="unpickle anything the checkpoint holds (can run code in it; only for files you "
        "trust: without it checkpoints are read as data)",
    )


def doc_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the docstring's first paragraph and whose epilog (the
    examples) is the rest, kept as written."""
    summary, _, rest = doc.partition("\n\n")
    return argparse.ArgumentParser(
        prog=prog,
        description=summary,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
