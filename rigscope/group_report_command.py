"""`rigscope report --group GROUP_ID [--json | --latex] [--out FILE]`: reproducibility over a run group."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recordings.group_render import latex, markdown
from recordings.out_paths import overwrite_risk, write_output
from recordings.reproducibility import reproducibility
from recordings.session import sessions_dir


def run(args: argparse.Namespace) -> int:
    if args.json and args.latex:
        print("rigscope: error: report: --json and --latex exclude each other", file=sys.stderr)
        return 2
    root = sessions_dir(args.dir)
    report = reproducibility(args.group, root)
    members = [root / entry["id"] for entry in report["sessions"]]
    refused = overwrite_risk(members, [Path(args.out)]) if args.out else None
    if refused:
        print(f"rigscope report: error: {refused}", file=sys.stderr)
        return 2
    text = (json.dumps(report, indent=1) + "\n" if args.json else latex(report) if args.latex else markdown(report))
    if args.out:
        write_output(Path(args.out), text)
        print(f"rigscope: wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
