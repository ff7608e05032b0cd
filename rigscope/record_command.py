"""`rigscope record`: a headless recording with a status line every 10 s and a summary at the end."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from collectors.schema import device_prefixes
from recordings.errors import InputError
from recordings.inert import inert
from recordings.report.markdown import size
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.terminal import install_handlers, leave_terminal, tell

STATUS_EVERY_S = 10.0


def config_from_args(args: argparse.Namespace, record: bool = True, attach: bool = True) -> MonitorConfig:
    """The monitor's settings from the flags; `attach`: publish the stream for viewers (`record` and `run` do).
    InputError for flags that do not go together. Touches nothing."""
    if args.source != "sim" and args.speed != 1.0:
        raise InputError("--speed needs --source sim (a real machine runs in real time)")
    formats = {"parquet": {"parquet"}, "csv": {"parquet", "csv"}, "both": {"parquet", "csv"}}[args.format]
    http = getattr(args, "http", None)
    return MonitorConfig(
        source=args.source, mode=args.mode, hz=args.hz, duration_s=args.duration, speed=args.speed,
        seed=args.seed, gpus_sim=args.gpus_sim, gpus=args.gpus, rated_cpu_w=args.rated_cpu_w,
        cpu_temp_limit=args.cpu_temp_limit, gpu_temp_limit=args.gpu_temp_limit, model_name=args.model_name,
        training_mode=args.training_mode, notes=args.notes, directory=args.dir, formats=frozenset(formats),
        realtime=args.realtime, flush_interval_s=args.flush_interval, segment_interval_s=args.segment_interval,
        record=record, http=http, proc_interval_s=args.proc_interval, proc_top=args.proc_top,
        gpm_interval_s=args.gpm_interval, host_hz=args.host_hz,
        http_token=getattr(args, "http_token", None) or os.environ.get("RIGSCOPE_HTTP_TOKEN") or None,
        probe_udp=args.probe_udp, shared_dir=args.shared_dir, attach=attach,
    )


def check_http(config: MonitorConfig) -> None:
    """`--http`: a taken port is one line (InputError) before any session is created; an address
    reached from the network is warned about on stderr."""
    if config.http is None:
        return
    from rigscope.serve.addresses import exposure_warning
    from rigscope.serve.http_server import check_listen

    check_listen(*config.http)
    warning = exposure_warning(*config.http)
    if warning:
        print(warning, file=sys.stderr, flush=True)


def _say(message: str) -> None:
    tell(f"rigscope: {message}")


def _fmt(value: Any, unit: str, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


def status_line(monitor: Monitor) -> str:
    """Samples, achieved rate, max temperature and power, bytes, workload state, collapses, throttling."""
    stats = monitor.stats
    summary = monitor.summary()
    devices: dict[str, dict[str, Any]] = summary.get("devices", {})
    temps = " ".join(f"{p} {_fmt(d.get('max_temp_c'), '°C')}" for p, d in devices.items())
    powers = " ".join(f"{p} {_fmt(d.get('max_power_w'), 'W')}" for p, d in devices.items())
    collapses = " ".join(f"{p} {d.get('collapse_events', 0)}" for p, d in devices.items())
    throttle = " ".join(
        f"{p} {_fmt(_pct(d['throttle'].get('throttled_fraction')), '%')}" for p, d in devices.items()
        if d.get("throttle"))
    recording = monitor.recording_state()
    written = recording.bytes_written if recording is not None else 0
    state, source = monitor.workload_state()
    elapsed = time.strftime("%H:%M:%S", time.gmtime(stats.elapsed_s))
    line = (f"[{elapsed}] {stats.samples} samples @ {stats.achieved_hz:.2f} Hz | max temp {temps} | "
            f"max power {powers} | {size(written)} written | state {inert(state or '—')}{' (tag)' if source == 'tag' else ''} | collapses {collapses}")
    return (line + (f" | throttled {throttle}" if throttle else "") + _probe_part(monitor, summary["spans"]["total"])
            + viewers_part(monitor))


def viewers_part(monitor: Monitor) -> str:
    """Attached viewers now, and those dropped (stuck) or refused (another user), once any."""
    if monitor.attach is None:
        return ""
    stats = monitor.attach.stats()
    parts = [f" | viewers {stats['viewers']}" if stats["attached"] else "",
             f" (dropped {stats['dropped']}, stuck)" if stats["dropped"] else "",
             f" | viewers refused (other user) {stats['refused_uid']}" if stats["refused_uid"] else ""]
    return "".join(parts)


def _probe_part(monitor: Monitor, spans: int) -> str:
    """Spans finished, events the rate limits dropped or the receiver refused, and its restarts, once any."""
    stats = monitor.event_stats()  # still counted in the last line, after stop
    limited = stats.get("rate_limited", 0)
    refused = stats.get("refused_uid", 0) + stats.get("refused_token", 0)
    restarts = stats.get("restarts", 0)
    parts = [f" | spans {spans}" if spans else "",
             f" | events rate-limited {limited}" if limited else "",
             f" | events refused (other user, no token) {refused}" if refused else "",
             f" | EVENT RECEIVER RESTARTED {restarts}x" if restarts else ""]
    return "".join(parts)


def say_attach(monitor: Monitor) -> None:
    if monitor.attach is not None:
        _say(f"attach with: rigscope attach {monitor.session.name if monitor.session else ''} "
             f"(socket {monitor.attach.path})")


def run_record(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    check_http(config)
    monitor = Monitor(config, on_notice=lambda message: _say(f"note: {message}"))
    stopping: dict[str, int | None] = {"signal": None}

    def request_stop(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum
        monitor.request_stop()

    def hung_up(signum: int, frame: Any) -> None:  # ssh dropped: the session closes as at Ctrl-C
        leave_terminal()
        request_stop(signum, frame)

    previous = install_handlers({signal.SIGINT: request_stop, signal.SIGTERM: request_stop, signal.SIGHUP: hung_up})
    _say(f"recording {monitor.session} at {config.hz:g} Hz"
         + (f" for {config.duration_s:g} s" if config.duration_s else " until Ctrl-C")
         + f" ({'simulated source' if config.source == 'sim' else 'this machine'}: "
         + f"{', '.join(device_prefixes(monitor.gpu_indices))})")
    next_status = [time.monotonic() + STATUS_EVERY_S]

    def maybe_status() -> None:
        if time.monotonic() >= next_status[0]:
            next_status[0] += STATUS_EVERY_S
            print(status_line(monitor), flush=True)

    monitor.start()
    if monitor.http is not None:
        _say(f"serving {monitor.http.url}/metrics")
    say_attach(monitor)
    try:
        monitor.wait(on_poll=maybe_status)
    finally:
        monitor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(status_line(monitor), flush=True)
    recording = monitor.recording_state()
    assert recording is not None
    if recording.error:
        kept = "is kept in" if recording.session.is_dir() else "was in the session folder, now gone:"
        _say(f"error: {recording.error}; what was flushed {kept} {recording.session}")
        return 1
    _say(f"session complete: {recording.session} ({recording.samples} samples, status complete)")
    return 0
