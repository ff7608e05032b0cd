"""The `rigscope` command line: parses arguments and hands each subcommand to its module.

Errors in what the user gave (flags, files, sessions) end with one line on
stderr and exit code 2 (usage) or 1 (runtime), never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib import import_module

from rigscope.parser import build_parser, print_help

# Each command's module and function, imported only when that command runs (start-up stays light).
COMMANDS: dict[str | None, tuple[str, str]] = {
    None: ("rigscope.dashboard_command", "run_dashboard"),
    "demo": ("rigscope.dashboard_command", "run_dashboard"),
    "record": ("rigscope.record_command", "run_record"),
    "replay": ("rigscope.replay_command", "run_replay"),
    "run": ("rigscope.run_command", "run"),
    "note": ("rigscope.session_command", "note"),
    "tag": ("rigscope.session_command", "tag"),
    "repair": ("rigscope.session_command", "repair"),
    "analyze": ("rigscope.session_command", "analyze"),
    "correlate": ("rigscope.correlate_command", "run"),
    "ls": ("rigscope.catalog_command", "ls"),
    "export": ("rigscope.catalog_command", "export"),
    "import": ("rigscope.catalog_command", "import_files"),
    "report": ("rigscope.report_command", "run"),
    "compare": ("rigscope.compare_command", "run"),
    "fleet": ("rigscope.fleet_command", "run"),
    "attach": ("rigscope.attach_command", "run"),
    "serve": ("rigscope.serve_command", "run"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from recordings.errors import InputError

    # A recording command's files are the user's only (0600, folders 0700) unless --shared-dir.
    umask = os.umask(0o077) if getattr(args, "shared_dir", None) is False else None
    try:
        if args.command == "help":
            return print_help(parser, args.topic)
        module, function = COMMANDS[args.command]
        return int(getattr(import_module(module), function)(args))
    except InputError as error:
        print(f"rigscope: error: {error}", file=sys.stderr)
        return 1
    except PermissionError as error:  # a folder or file of someone else's, wherever it was met
        print(f"rigscope: error: {error.filename or ''}: permission denied", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if umask is not None:
            os.umask(umask)


if __name__ == "__main__":
    raise SystemExit(main())
