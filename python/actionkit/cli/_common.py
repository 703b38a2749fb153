"""What every command-line tool shares: a user's mistake ends the tool with one line that
says what was wrong (exit status 1); a bug keeps its traceback. One-line errors are
actionkit's own (:class:`actionkit.errors.ActionkitError`: config, data, checkpoint and
usage errors) and missing or unwritable files; ``--debug`` (or ``ACTIONKIT_TRACEBACK=1``)
shows the traceback of those too."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from ..errors import ActionkitError

# errors that describe the user's input; anything else is a bug and keeps its traceback
USER_ERRORS = (
    ActionkitError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
DEBUG_HELP = "show the traceback of every error (also ACTIONKIT_TRACEBACK=1)"


def one_line_errors(prog: str) -> Callable:
    """Wraps a tool's ``main(argv)``: takes ``--debug`` out of argv (every tool's parser
    lists it for ``--help``) and turns user errors into one line."""

    def wrap(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            argv = list(sys.argv[1:] if argv is None else argv)
            debug = "--debug" in argv or os.environ.get("ACTIONKIT_TRACEBACK") == "1"
            argv = [a for a in argv if a != "--debug"]
            try:
                return main(argv) or 0
            except USER_ERRORS as e:
                if debug:
                    raise
                text = str(e)
                if "Original Traceback" in text:  # re-raised from a DataLoader worker
                    text = text.strip().splitlines()[-1].split(": ", 1)[-1]
                print(f"{prog}: error: {text}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

        return run

    return wrap


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """``--debug`` in ``--help`` (:func:`one_line_errors` handles it)."""
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)


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
    examples) is the rest, kept as written; with ``--debug``."""
    summary, _, rest = doc.partition("\n\n")
    parser = argparse.ArgumentParser(
        prog=prog,
        description=summary,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_debug_flag(parser)
    return parser


def add_set_flag(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE ...``, repeatable: every occurrence adds its overrides
    (``--set a=1 --set b=2`` is ``--set a=1 b=2``; a key given twice with different
    values is an error, from :func:`actionkit.config.load_config`)."""
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. --set optim.lr=0.01 data.batch_size=16 (repeatable)",
    )
