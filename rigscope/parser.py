"""The `rigscope` command line's parser: every command, its flags, help text and example, in one place.

`build_parser()` is what `rigscope.cli.main` parses with; a mistyped command or choice gets a
suggestion (`did_you_mean`) and exit code 2.  What each command does is in its `*_command` module.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from rigscope import __version__, options

EXAMPLES = {
    "dashboard": "example: rigscope --hz 10 --model-name llama-7b     (q quits, ? lists the keys)",
    "demo": "example: rigscope demo --gpus-sim 8",
    "record": "example: rigscope record --duration 30m --hz 10 --model-name llama-7b --format both",
    "note": 'example: rigscope note "lr dropped to 1e-4"',
    "tag": "example: rigscope tag eval    (rigscope tag auto returns to the heuristic)",
    "repair": "example: rigscope repair latest",
    "analyze": "example: rigscope analyze latest --out derived.parquet",
    "replay": "example: rigscope replay latest --speed 60 --at +10m     (no SESSION: pick from a list)",
    "correlate": "example: rigscope correlate latest grad_norm     (--json for scripts)",
    "run": "example: rigscope run --baseline 2m --repeat 3 --check 'gpu0.max_temp_c < 85' -- python train.py",
    "ls": "example: rigscope ls --dir runs/     (--json for scripts)",
    "export": "example: rigscope export latest --to long-csv --out run.csv     "
              "(--to perfetto --from +10m --until +20m: a timeline for ui.perfetto.dev)",
    "import": "example: rigscope import old/pc__rle_*.csv synthesis_20251028.csv gpu.log",
    "report": "example: rigscope report latest --out report.md --plots figures/",
    "compare": "example: rigscope compare --all --by hardware_tier --out comparison/",
    "attach": "example: rigscope attach latest     (q detaches; the recorder goes on)",
    "serve": "example: rigscope serve --port 8765     (then ssh -L 8765:localhost:8765 gpu-box, open "
             "the printed http://localhost:8765/?token=...)",
    "fleet": "example: rigscope fleet --prometheus http://prometheus:9090 --job 'dcgm|node'     (--targets "
             "gpu01:9400,gpu02:9400 without Prometheus; --once --json for scripts)",
}


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2; a mistyped choice gets a suggestion."""

    given: list[str] = []  # what this parser was last asked to parse

    def parse_known_args(  # type: ignore[override]  # (argparse types it with overloads)
            self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        self.given = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self.given, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        message = self.unknown_flag_first(message)
        self.exit(2, f"{self.prog}: error: {negative_value(message, self.given)}"
                     f"{did_you_mean(message, self.flag_names())}\n")

    def flag_names(self) -> list[str]:
        """The flags a mistyped one is compared with."""
        return [option for action in self._actions for option in action.option_strings]

    def unknown_flag_first(self, message: str) -> str:
        """argparse says `the following arguments are required: --out` for `--otu x.parquet` (or that one
        of a group is, or that the flag's value is no command), never naming the flag mistyped: name it
        instead (its suggestion follows)."""
        if not message.startswith(("the following arguments are required", "one of the arguments",
                                   "argument COMMAND: invalid choice")):
            return message
        known = self.flag_names()
        for token in self.given[:self.given.index("--")] if "--" in self.given else self.given:
            name = token.split("=", 1)[0]
            if (name.startswith("-") and not re.match(r"-\.?\d", name) and name != "-"
                    and not any(option.startswith(name) for option in known)):  # argparse takes a prefix too
                return f"unrecognized arguments: {name}"
        return message


def negative_value(message: str, given: list[str]) -> str:
    """argparse takes `--duration -5s` for two flags and says `expected one argument`: say the value is
    negative instead (a flag's value never is); other messages as they are."""
    found = re.fullmatch(r"argument (\S+): expected one argument", message)
    if found:
        names = found.group(1).split("/")
        after = [given[i + 1] for i, token in enumerate(given[:-1]) if token in names]
        if after and re.match(r"-(\.?\d|inf)", after[-1], re.IGNORECASE):
            return f"argument {found.group(1)}: {after[-1]}: {options.NEGATIVE}"
    return message


def did_you_mean(message: str, flags: list[str] | None = None) -> str:
    """` (did you mean replay?)` for argparse's `invalid choice: 'repaly' (choose from ...)`, and
    ` (did you mean --out?)` for `unrecognized arguments: --otu` among `flags`; else empty."""
    import difflib

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if found:
        word = found.group(1)
        choices = re.findall(r"'([^']*)'", found.group(2)) or [c.strip() for c in found.group(2).split(",")]
    else:
        found = re.match(r"unrecognized arguments: (-\S+)", message)
        if not found or not flags:
            return ""
        word, choices = found.group(1).split("=", 1)[0], flags
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class CommandLine(Parser):
    """The top-level parser. The dashboard's flags are also accepted before a command (`rigscope --hz 50
    record`): argparse would drop them for the command's own defaults, so the command is parsed again with
    them first, as if they had been given right after it (its own types and choices apply, and a flag given
    after the command wins); a flag the command has not is refused."""

    commands: argparse._SubParsersAction

    def flag_names(self) -> list[str]:
        return [*getattr(self, "command_flags", []), *super().flag_names()]

    def parse_known_args(  # type: ignore[override]  # (argparse types it with overloads)
            self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        args = sys.argv[1:] if args is None else list(args)
        self.command_flags: list[str] = []
        parsed, extras = super().parse_known_args(args, namespace)
        command = getattr(parsed, "command", None)
        if not command:
            return parsed, extras
        self.command_flags = Parser.flag_names(self.commands.choices[command])  # what a leftover is compared with
        before, flags, after = split_at_command(args)
        if not before:
            return parsed, extras
        sub = self.commands.choices[command]
        accepted = {option for action in sub._actions for option in action.option_strings}
        for option in flags:
            if option not in accepted:
                self.error(f"{option} does not apply to {command} (rigscope {command} --help lists its flags)")
        again, extras = sub.parse_known_args([*before, *after])
        for dest, value in vars(again).items():
            setattr(parsed, dest, value)
        return parsed, extras


def split_at_command(args: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(the tokens before the command, the dashboard's flags among them as their first option strings, the
    tokens after the command)."""
    before = Parser(add_help=False)
    add_dashboard_flags(before)
    for action in before._actions:
        action.default = argparse.SUPPRESS  # only what was given
    before.add_argument("command_and_after", nargs=argparse.REMAINDER)
    given = vars(before.parse_known_args(args)[0])
    rest = given.pop("command_and_after")
    flags = [action.option_strings[0] for action in before._actions if action.dest in given and action.option_strings]
    return args[:len(args) - len(rest)], flags, rest[1:]


def _set_defaults(parser: argparse.ArgumentParser, **defaults: tuple[Any, str]) -> None:
    """Change flags' defaults and their help together, so `--help` shows what the command really uses."""
    for action in parser._actions:
        if action.dest in defaults:
            action.default, action.help = defaults[action.dest]


def add_session_dir(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    from recordings.session import default_sessions_dir

    parser.add_argument("--dir", help=f"sessions directory (default: $RIGSCOPE_DIR, else {default_sessions_dir()})")


def add_record_flags(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what and how fast")
    what.add_argument("--mode", choices=["cpu", "gpu", "both", "auto"], default="auto",
                      help="devices to sample; auto: GPUs when present (default)")
    what.add_argument("--hz", type=options.hz, default=10.0, help="samples per second, 0.1 to 100 (default 10)")
    what.add_argument("--duration", type=options.duration, help="stop after e.g. 30s, 10m, 2h (default: until Ctrl-C)")
    what.add_argument("--source", choices=["system", "sim"], default="system",
                      help="system: this machine (default); sim: the simulated scenario")
    what.add_argument("--gpus", type=options.gpu_list, help="NVML indices or GPU UUIDs to sample, e.g. 0,2 "
                      "(default: CUDA_VISIBLE_DEVICES or all)")
    what.add_argument("--host-hz", type=options.hz, default=2.0,
                      help="memory, swap, disk and network reads per second, 0.1 to 100 (default 2)")
    what.add_argument("--gpm-interval", type=options.gpm_interval, default=1.0, metavar="SECONDS",
                      help="how often SM, tensor and DRAM activity (NVML GPM, Hopper and newer) are sampled (default 1)")
    procs = parser.add_argument_group("processes (who uses the GPUs)")
    procs.add_argument("--proc-interval", type=options.seconds, default=2.0, metavar="SECONDS",
                       help="how often the GPU processes are listed and recorded (default 2, at most a day)")
    procs.add_argument("--proc-top", type=options.count, default=0, metavar="N",
                       help="also list the N busiest host processes by CPU (default 0: GPU processes only)")
    sim = parser.add_argument_group("simulated source")
    sim.add_argument("--gpus-sim", type=options.gpu_count, default=1, help="simulated GPUs, 1 to 16 (default 1)")
    sim.add_argument("--seed", type=int, default=0, help="scenario seed (default 0)")
    sim.add_argument("--speed", type=options.speed, default=1.0, help="run faster than real time, e.g. 60 (up to 100000), or max")
    labels = parser.add_argument_group("session labels")
    labels.add_argument("--model-name", help="the model being run, kept in meta.json (e.g. llama-7b)")
    labels.add_argument("--training-mode", help="how it runs, kept in meta.json (e.g. finetune, inference)")
    labels.add_argument("--notes", help="a free-text note on the whole session, shown by ls")
    writing = parser.add_argument_group("where and how it writes")
    add_session_dir(writing)
    writing.add_argument("--format", choices=["parquet", "csv", "both"], default="parquet",
                         help="samples format; Parquet is always kept for replay (default parquet)")
    writing.add_argument("--shared-dir", action="store_true",
                         help="make session folders and files as the umask says (default: 0700 and 0600, "
                              "readable by you only)")
    writing.add_argument("--realtime", action="store_true", help="flush the CSV after every sample")
    writing.add_argument("--flush-interval", type=options.seconds, default=1.0, metavar="SECONDS",
                         help="how often the journal is flushed: at most this much is lost to a crash (default 1, at most a "
                              "day)")
    writing.add_argument("--segment-interval", type=options.seconds, default=60.0, metavar="SECONDS",
                         help="seconds of samples per Parquet segment (default 60, at most a day)")
    hardware = parser.add_argument_group("hardware overrides")
    hardware.add_argument("--rated-cpu-w", type=options.positive, help="CPU rated power in W (when RAPL has no limit)")
    hardware.add_argument("--cpu-temp-limit", type=options.positive, help="CPU temperature limit in °C")
    hardware.add_argument("--gpu-temp-limit", type=options.positive, help="GPU temperature limit in °C")
    serving = parser.add_argument_group("HTTP endpoint (docs/prometheus.md)")
    serving.add_argument("--http", type=options.http_address, metavar="[HOST:]PORT",
                         help="serve /metrics (Prometheus), /metrics/summary, /metrics/export, /healthz and "
                              "POST /events; the host defaults to 127.0.0.1")
    serving.add_argument("--probe-udp", type=options.udp_port, nargs="?", const=0, metavar="PORT",
                         help="also take probe events over UDP on 127.0.0.1:PORT (default: a free port), for "
                              "workloads that cannot reach your socket (a container); each datagram must carry the "
                              "session's token, printed at start (docs/security.md)")
    serving.add_argument("--http-token", metavar="TOKEN",
                         help="bearer token that POST /events must carry instead of the session's token "
                              "(printed at start) (default $RIGSCOPE_HTTP_TOKEN)")


def add_dashboard_flags(parser: argparse.ArgumentParser) -> None:
    add_record_flags(parser)
    _set_defaults(parser, proc_top=(None, "also list the N busiest host processes by CPU (default: 5 on a box "
                                          "without GPUs, to fill the screen; else 0, GPU processes only)"))
    screen = parser.add_argument_group("dashboard")
    screen.add_argument("--no-record", action="store_true", help="watch without recording a session")
    screen.add_argument("--fps", type=options.fps, default=2.0, help="screen redraws per second, 0.2 to 30 (default 2)")
    screen.add_argument("--ascii", action="store_true", help="ASCII sparklines, for terminals with broken glyphs")
    screen.add_argument("--readonly", action="store_true", help="no key acts on the machine (k does not kill)")
    screen.add_argument("--new", action="store_true",
                        help="start a second sampler even when a recorder of yours already runs (default: offer "
                             "to attach to it)")


def build_parser() -> CommandLine:
    parser = CommandLine(prog="rigscope", description="Monitor ML workloads on GPU boxes: live dashboard, recording, "
                    "analysis.\nWithout a command: the live dashboard on this machine, recording the session.",
                    epilog=EXAMPLES["dashboard"], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rigscope {__version__}")
    add_dashboard_flags(parser)
    commands = parser.commands = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    demo = commands.add_parser("demo", help="the dashboard on the simulated source (4 GPUs)", epilog=EXAMPLES["demo"])
    add_dashboard_flags(demo)
    _set_defaults(demo, source=("sim", "system: this machine; sim: the simulated scenario (default sim)"),
                  gpus_sim=(4, "simulated GPUs, 1 to 16 (default 4)"))

    record = commands.add_parser("record", help="headless recording with status lines", epilog=EXAMPLES["record"])
    add_record_flags(record)

    note = commands.add_parser("note", help="add a note to the running (or latest) session", epilog=EXAMPLES["note"])
    note.add_argument("text", type=options.text, help="what to note, in quotes")
    note.add_argument("--session", help="session id, prefix, path or latest (default: $RIGSCOPE_SESSION, else your "
                                        "newest running recorder, else the latest session)")
    add_session_dir(note)

    tag = commands.add_parser("tag", help="tag the workload phase of the running session", epilog=EXAMPLES["tag"])
    tag.add_argument("state", type=options.text, help="phase name; auto returns to the heuristic")
    tag.add_argument("--session", help="session id, prefix or path (default: $RIGSCOPE_SESSION, else your newest "
                                       "running recorder)")
    add_session_dir(tag)

    repair = commands.add_parser("repair", help="finish an interrupted session", epilog=EXAMPLES["repair"])
    repair.add_argument("session", help="session id, prefix, path or latest")
    repair.add_argument("--force", action="store_true",
                        help="repair even when the session looks live (its files changed moments ago, on any host)")
    add_session_dir(repair)

    analyze = commands.add_parser(
        "analyze", help="recompute derived signals offline", epilog=EXAMPLES["analyze"],
        description="Feeds recorded samples through the live signal pipeline and writes them with every derived "
                    "column (workload state, RLE, collapses) to --out; prints the session summary as JSON on stdout. "
                    "Another tool's trace goes through rigscope import first.")
    analyze.add_argument("input", help="session (id, path, latest) or a samples CSV/Parquet file")
    analyze.add_argument("--out", required=True, help="output file, .csv or .parquet")
    analyze.add_argument("--events", help="events JSONL file with tags (default: the session's events.jsonl)")
    add_session_dir(analyze)
    replay = commands.add_parser("replay", help="play a recorded session in the dashboard", epilog=EXAMPLES["replay"])
    replay.add_argument("session", nargs="?", help="session id, prefix, path or latest (default: pick from a list)")
    add_session_dir(replay)
    replay.add_argument("--speed", type=options.replay_speed, default=1.0,
                        help="x0.25 to x1000, or max (default 1)")
    replay.add_argument("--at", help="start at HH:MM:SS (UTC), or 15m / +15m / 90 (seconds) from the start, "
                                     "as `g` reads it")
    replay.add_argument("--fps", type=options.fps, default=4.0, help="screen redraws per second (default 4)")
    replay.add_argument("--ascii", action="store_true", help="ASCII sparklines")
    correlate = commands.add_parser(
        "correlate", help="a custom metric (rigscope.metric) against collapse events", epilog=EXAMPLES["correlate"],
        description="Per device: the metric's points inside and outside collapses (count, mean, max, in the "
                    "metric's own units), and its Pearson correlation r (-1 to 1) with the smoothed RLE at lags of "
                    "-10 to +10 s (> 0: the metric leads). — where a figure is unknown (too few points, no RLE).")
    correlate.add_argument("session", help="session id, prefix, path or latest")
    correlate.add_argument("metric", help="metric name, as the workload sent it (e.g. grad_norm)")
    correlate.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_session_dir(correlate)
    _add_run_parsers(commands)
    _add_catalog_commands(commands)
    _add_report_commands(commands)
    _add_fleet_command(commands)
    _add_attach_commands(commands)
    helper = commands.add_parser("help", help="help on a command: rigscope help replay")
    helper.add_argument("topic", nargs="?", metavar="COMMAND", choices=sorted(commands.choices),
                        help="the command to explain (default: rigscope's own help)")
    return parser


def print_help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    """`rigscope help [COMMAND]`: the same text as `rigscope [COMMAND] --help`."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    (commands.choices[topic] if topic else parser).print_help()
    return 0


def _add_run_parsers(commands: Any) -> None:
    """`run`: a recorded session around a command."""
    run = commands.add_parser(
        "run", help="record a session around a command: baseline, run, cooldown, checks", epilog=EXAMPLES["run"],
        description="Records a session: an idle baseline (tagged baseline), the command (run), a cooldown "
                    "(cooldown). Exits with the command's code, or 3 when a check failed. Check names: samples, "
                    "duration_s, collapses, max_temp, DEVICE.KEY (gpu0.max_temp_c, cpu.mean_util_pct), "
                    "throttle.GPU.KEY (throttle.gpu0.thermal_fraction), spans.KEY (spans.success_rate), "
                    "workload.STATE_s; with and, or, not, < <= > >= == !=.")
    add_record_flags(run)
    next(a for a in run._actions if a.dest == "duration").help = argparse.SUPPRESS  # the command's end ends it
    plan = run.add_argument_group("controlled run")
    plan.add_argument("--baseline", type=options.phase_duration, default=120.0, help="idle baseline first (default 2m)")
    plan.add_argument("--cooldown", type=options.phase_duration, default=60.0, help="cooldown after (default 1m)")
    plan.add_argument("--repeat", type=options.repeat_count, default=1, help="N sessions in one group (default 1)")
    plan.add_argument("--check", action="append", metavar="EXPR",
                      help="pass/fail over the summary, e.g. 'gpu0.max_temp_c < 85 and collapses == 0' (repeatable)")
    plan.add_argument("--env-keys", type=options.key_list, metavar="K1,K2", help="environment variables to record")
    plan.add_argument("--log-cap", type=options.byte_size, default=10 * 1024**2, metavar="SIZE",
                      help="output.log size cap, e.g. 10M (default 10M)")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run")


def _add_report_commands(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="markdown report of a session, with plots", epilog=EXAMPLES["report"])
    report.add_argument("session", nargs="?", help="session id, prefix, path or latest")
    report.add_argument("--group", metavar="GROUP_ID", help="reproducibility report over a group of runs instead")
    report.add_argument("--out", metavar="FILE", help="write the markdown to FILE (default: stdout)")
    report.add_argument("--plots", metavar="DIR", help="write text plots, and PNGs with matplotlib, into DIR")
    report.add_argument("--terminal-plots", action="store_true", help="text plots after the report even when piped")
    report.add_argument("--latex", action="store_true", help="with --group: a LaTeX table")
    report.add_argument("--json", action="store_true", help="with --group: JSON")
    report.add_argument("--check", action="append", metavar="EXPR",
                        help="pass/fail over the session's summary, as `run --check` (repeatable); exit 1 if one fails")
    add_session_dir(report)
    compare = commands.add_parser("compare", help="sessions side by side, or grouped with --by",
                                  epilog=EXAMPLES["compare"])
    compare.add_argument("sessions", nargs="*", metavar="SESSION", help="session ids, prefixes, paths or group ids")
    compare.add_argument("--all", action="store_true",
                         help="every session in the sessions directory, demo sessions left out")
    compare.add_argument("--demo", action="store_true", help="with --all: take demo (simulated) sessions in too")
    compare.add_argument("--by", choices=["hardware_tier", "host", "session", "user"],
                         help="group sessions by this (default: named sessions side by side, one column each; "
                              "--all by hardware_tier; user: whose processes held the most GPU memory)")
    compare.add_argument("--out", metavar="DIR", help="also write CSV, JSON, markdown and PNG figures into DIR")
    add_session_dir(compare)


def _add_catalog_commands(commands: Any) -> None:
    """ls, export, import."""
    listing = commands.add_parser("ls", help="list the sessions, newest first", epilog=EXAMPLES["ls"])
    listing.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_session_dir(listing)
    out = commands.add_parser("export", help="a session's samples as csv, parquet, json lines or the RLE lab's long "
                                             "CSV; its timeline for Perfetto or chrome://tracing",
                              epilog=EXAMPLES["export"])
    out.add_argument("session", help="session id, prefix, path or latest")
    out.add_argument("--to", required=True, choices=["csv", "parquet", "json", "long-csv", "perfetto", "chrome-trace"],
                     help="format: csv, parquet, json (one object a line), long-csv (the RLE lab's layout), "
                          "perfetto (a .pftrace, needs rigscope[trace]) or chrome-trace (trace-event JSON)")
    out.add_argument("--out", help="output file (default: SESSION_ID.csv|.parquet|.jsonl|.long.csv|.pftrace|.trace.json "
                                   "here)")
    span = out.add_argument_group("timeline (perfetto, chrome-trace)")
    span.add_argument("--from", dest="start", metavar="WHEN",
                      help="start at +10m from the first sample, HH:MM[:SS] (UTC) or an ISO time")
    span.add_argument("--until", metavar="WHEN", help="end at a time in the same forms (--to names the format)")
    span.add_argument("--downsample", type=options.positive, metavar="HZ",
                      help="counters averaged to HZ points a second (default: every sample)")
    add_session_dir(out)
    into = commands.add_parser("import", help="RLE lab CSVs, TTS request CSVs and nvidia-smi logs as sessions",
                               epilog=EXAMPLES["import"])
    into.add_argument("files", nargs="+", metavar="FILE",
                      help="files to import: RLE lab CSVs, TTS request CSVs, nvidia-smi logs")
    into.add_argument("--fields", help="the --query-gpu fields of an nvidia-smi CSV without a header")
    into.add_argument("--host", metavar="NAME",
                      help="the host the file was written on (for the session id and {host} in --dir)")
    into.add_argument("--tz", metavar="ZONE",
                      help="the time zone of times written without one (default: this machine's), e.g. Europe/Berlin")
    into.add_argument("--date-order", choices=["dmy", "mdy"],
                      help="read dates like 03-11-2026 day first or month first (default: decided from the file)")
    add_session_dir(into)


def _add_fleet_command(commands: Any) -> None:
    fleet = commands.add_parser("fleet", help="many GPU nodes on one screen, through Prometheus or their /metrics",
                                epilog=EXAMPLES["fleet"])
    source = fleet.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", metavar="URL", help="Prometheus (or Thanos, Mimir, VictoriaMetrics) base URL")
    source.add_argument("--targets", metavar="HOST:PORT,...", help="scrape these /metrics pages directly")
    source.add_argument("--targets-file", metavar="FILE", help="the same, one HOST:PORT a line (# comments)")
    fleet.add_argument("--job", metavar="REGEX", help="with --prometheus: only targets of these jobs")
    fleet.add_argument("--window", type=options.duration, default=600.0,
                       help="energy, throttle, collapses and sparklines over this window (default 10m)")
    fleet.add_argument("--refresh", type=options.seconds, default=5.0, metavar="SECONDS",
                       help="seconds between refreshes of the screen (default 5)")
    fleet.add_argument("--timeout", type=options.seconds, default=5.0, metavar="SECONDS",
                       help="give up on a request after this long (default 5, at most a day)")
    fleet.add_argument("--token", help="bearer token for Prometheus (default $RIGSCOPE_FLEET_TOKEN)")
    fleet.add_argument("--basic-auth", metavar="USER:PASSWORD",
                       help="basic auth for Prometheus (default $RIGSCOPE_FLEET_BASIC_AUTH)")
    fleet.add_argument("--once", action="store_true", help="read the fleet once, print the table and exit")
    fleet.add_argument("--json", action="store_true", help="with --once: the table as JSON")


def _add_attach_commands(commands: Any) -> None:
    """`attach` and `serve`: looking in on a running recorder, in a terminal or a browser."""
    attach = commands.add_parser("attach", help="the dashboard on a running recorder (q detaches, it goes on)",
                                 epilog=EXAMPLES["attach"])
    attach.add_argument("session", nargs="?", help="session id, prefix or path of a running recorder, or latest "
                                                   "(default: your newest running recorder)")
    attach.add_argument("--dir", help="sessions directory, for o (default: the attached session's)")
    attach.add_argument("--fps", type=options.fps, default=2.0, help="screen redraws per second (default 2)")
    attach.add_argument("--ascii", action="store_true", help="ASCII sparklines")
    attach.add_argument("--readonly", action="store_true", help="k and r are off (rigscope serve's default)")
    serve = commands.add_parser("serve", help="rigscope attach in a browser (textual-serve)", epilog=EXAMPLES["serve"])
    serve.add_argument("session", nargs="?", help="session id, prefix or path of a running recorder (default: "
                                                  "each new tab attaches to your newest running recorder)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another "
                                                           "needs --token)")
    serve.add_argument("--port", type=options.port, default=8765, help="port (default 8765)")
    serve.add_argument("--token", help="secret a browser must show: open http://HOST:PORT/?token=TOKEN once "
                                       "(default: one made at start and printed; required for a --host other "
                                       "than loopback)")
    serve.add_argument("--allow-actions", action="store_true", help="let browsers use k (end a process) and r "
                                                                    "(stop the recording); default: off")
    serve.add_argument("--dir", help="sessions directory (default: $RIGSCOPE_DIR, else the per-user one)")
