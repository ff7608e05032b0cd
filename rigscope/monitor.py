"""Wires a monitoring session together: collectors -> sampler (+ signals) -> recorder, plus the event receiver.

`record`, the dashboard and the tests all build their session through
`Monitor`, so they run exactly the same pipeline.
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.base import Collector
from collectors.clock import Clock, RealClock, ScaledClock, VirtualClock, machine_clocks
from collectors.metrics import MetricHistory
from collectors.process_tier import ProcessTier
from collectors.receiver import EventReceiver
from collectors.sampler import Sampler
from collectors.schema import gpu_column, session_columns
from collectors.signals import SignalPipeline
from collectors.spans import SpanTracker
from collectors.timeutil import iso_from_us
from collectors.workload_events import WorkloadEvents
from recordings.errors import InputError, write_failure
from recordings.processes import ProcessJournal
from recordings.recorder import Recorder, RecorderOptions
from recordings.session import FORMAT, create_session_dir, sessions_dir
from recordings.spans import SPANS_JOURNAL, write_span_tables
from recordings.tier import hardware_tier
from rigscope import __version__
from rigscope.local_channel import LIVE, channel_dir, new_socket_path, remove_stale

SPANS_CLOSE_WAIT_S = 10.0  # how long the recorder's close waits for the span tracker to finish
CONSUMER_POLL_S = 0.25  # the recorder and the span tracker take the sampler's batches 4 times a second
CPU_ONLY_TOP = 5  # the dashboard's busiest host processes on a box without GPUs (as btop lists them)


@dataclass
class MonitorConfig:
    source: str = "system"  # "system" or "sim"
    mode: str = "auto"  # cpu | gpu | both | auto
    hz: float = 10.0
    duration_s: float | None = None
    speed: float | None = 1.0  # simulated source only; None: as fast as possible
    seed: int = 0
    gpus_sim: int = 1
    gpus: str | None = None
    rated_cpu_w: float | None = None
    cpu_temp_limit: float | None = None
    gpu_temp_limit: float | None = None
    model_name: str | None = None
    training_mode: str | None = None
    notes: str | None = None
    directory: str | None = None
    formats: frozenset[str] = frozenset({"parquet"})
    realtime: bool = False
    flush_interval_s: float = 1.0
    segment_interval_s: float = 60.0
    record: bool = True
    receive_events: bool = True
    http: tuple[str, int] | None = None  # (host, port) of the HTTP endpoint (--http); None: off
    http_token: str | None = None  # bearer token for POST /events (--http-token)
    probe_udp: int | None = None  # also take token-carrying UDP events on this loopback port (--probe-udp; 0: any)
    shared_dir: bool = False  # session folders with the user's umask instead of 0700 (--shared-dir)
    proc_interval_s: float = 2.0  # the process tier (--proc-interval)
    proc_top: int | None = 0  # also the N busiest host processes by CPU (--proc-top); None: CPU_ONLY_TOP without GPUs
    gpm_interval_s: float = 1.0  # GPM (SM, tensor, DRAM activity) of the GPUs that have it (--gpm-interval)


@dataclass
class Sources:
    collectors: list[Collector]
    gpu_indices: list[int]
    host: dict[str, Any]
    gpus: list[dict[str, Any]]
    notices: list[str] = field(default_factory=list)
    source: str = "system"
    processes: Any = None  # rows(ts_us, frame) and drain_notices() of the process tier; None: no tier


def _system_sources(config: MonitorConfig, nvml_backend: Any = None) -> Sources:
    from collectors.cpu import CpuCollector
    from collectors.gpu import open_gpu_collector
    from collectors.host import HostCollector
    from collectors.hostinfo import host_info
    from collectors.rapl import RaplCollector
    from collectors.self_usage import SelfUsageCollector

    collectors: list[Collector] = []
    if config.mode != "gpu":
        collectors += [CpuCollector(), RaplCollector()]
    collectors.append(HostCollector())
    collectors.append(SelfUsageCollector())
    sources = Sources(collectors, [], host_info(), [])
    if config.mode != "cpu":
        try:
            gpu, reason = open_gpu_collector(backend=nvml_backend, gpus_flag=config.gpus, environ=os.environ,
                                             gpm_interval_s=config.gpm_interval_s)
        except ValueError as error:  # --gpus names a GPU this machine does not have
            raise InputError(str(error)) from None
        if gpu is None:
            if config.mode == "gpu":
                raise InputError(f"--mode gpu: {reason}")
            sources.notices.append(reason or "no GPU: recording CPU only")
        else:
            info = gpu.info()
            sources.gpus = info["gpus"]
            sources.gpu_indices = [g["index"] for g in sources.gpus]
            collectors.append(gpu.threaded(config.hz))  # one reader thread per GPU
    top = config.proc_top if config.proc_top is not None else (0 if sources.gpus else CPU_ONLY_TOP)
    if sources.gpus or top:
        from collectors.processes import ProcessCollector

        gpu_backend = gpu.backend if sources.gpus and gpu is not None else None
        sources.processes = ProcessCollector(gpu_backend, sources.gpu_indices, top)
    return sources


def _simulated_sources(config: MonitorConfig) -> Sources:
    from collectors.self_usage import SelfUsageCollector
    from collectors.simulated import SimulatedCollector
    from collectors.simulated_processes import SimulatedProcesses

    collector = SimulatedCollector(gpu_count=config.gpus_sim, seed=config.seed)
    info = collector.info()
    gpus = info["gpus"]
    return Sources([collector, SelfUsageCollector()], [g["index"] for g in gpus], info["host"], gpus,
                   source="simulated", processes=SimulatedProcesses(config.gpus_sim, config.seed))


def _overrides(config: MonitorConfig, gpu_indices: list[int]) -> dict[str, float]:
    values: dict[str, float] = {}
    if config.rated_cpu_w is not None:
        values["cpu_power_limit_w"] = config.rated_cpu_w
    if config.cpu_temp_limit is not None:
        values["cpu_temp_limit_c"] = config.cpu_temp_limit
    if config.gpu_temp_limit is not None:
        values.update({gpu_column(i, "temp_limit_c"): config.gpu_temp_limit for i in gpu_indices})
    return values


def _open_receiver(handler: Callable[[dict[str, Any]], None], on_notice: Callable[[str], None],
                   udp_port: int | None) -> EventReceiver:
    """The event receiver; with `udp_port`, also listening on that loopback port for datagrams with a new token.
    The runtime directory is checked first: a session is not started where its socket cannot be."""
    try:
        channel_dir(create=True)
    except OSError as error:
        raise InputError(f"cannot open the event socket: {error}") from None
    receiver = EventReceiver(handler, on_notice=on_notice)
    if udp_port is not None:
        try:
            receiver.listen_udp(udp_port, secrets.token_urlsafe(16))
        except OSError as error:
            receiver.close()
            raise InputError(f"--probe-udp: cannot take port {udp_port}: {error.strerror or error}") from None
    return receiver


def _listen_local(receiver: EventReceiver, name: str) -> None:
    """This user's socket for session `name`, after clearing those of recorders that died."""
    try:
        remove_stale()
        receiver.listen_local(new_socket_path(name))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot open the event socket for {name}: {error}") from None


def _host_facts(sources: Sources) -> dict[str, Any]:
    """The host's facts that every span row repeats (as meta.json's host has them)."""
    host = dict(sources.host)
    host.setdefault("hardware_tier", hardware_tier(host.get("cpu_model"), [g.get("name") or "" for g in sources.gpus]))
    host.setdefault("device_type", "cuda" if sources.gpus else "cpu")
    return host


def make_clock(config: MonitorConfig) -> Clock:
    if config.source != "sim" or config.speed == 1.0:
        return RealClock()
    return VirtualClock() if config.speed is None else ScaledClock(config.speed)


class Monitor:
    """One monitoring session: sampling, derived signals, recording and incoming events."""

    def __init__(
        self,
        config: MonitorConfig,
        clock: Clock | None = None,
        nvml_backend: Any = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        from collectors.overrides import FixedValues

        self.config = config
        self.clock = clock or make_clock(config)
        self._on_notice = on_notice
        self.notices: list[str] = []
        sources = _simulated_sources(config) if config.source == "sim" else _system_sources(config, nvml_backend)
        overrides = _overrides(config, sources.gpu_indices)
        if overrides:
            sources.collectors.append(FixedValues(overrides))
        self.sources = sources
        self.gpu_indices = sources.gpu_indices
        self.columns = session_columns(sources.gpu_indices)
        self.signals = SignalPipeline(sources.gpu_indices)
        self.sampler = Sampler(sources.collectors, config.hz, self.clock, config.duration_s,
                               self.signals, on_notice=self._notice)
        self.receiver: EventReceiver | None = None
        self._receiver_stats: dict[str, Any] = {}
        if config.receive_events:
            self.receiver = _open_receiver(self.sampler.post_event, self._notice, config.probe_udp)
        # Spans and custom metrics of instrumented workloads (rigscope.span, rigscope.metric), live.
        self.spans = SpanTracker(sources.gpu_indices, _host_facts(sources), sources.gpus)
        self.metrics = MetricHistory()
        virtual = isinstance(self.clock, VirtualClock)
        self._workload = WorkloadEvents(self.sampler.subscribe(maxsize=max(1000, int(config.hz * 60)), lossless=virtual,
                                                               poll_s=CONSUMER_POLL_S), self.spans, self.metrics)
        self._workload.on_failure = self._writer_failed
        self.processes: ProcessTier | None = None
        if sources.processes is not None:
            self.processes = ProcessTier(self.sampler.subscribe(maxsize=max(100, int(config.hz * 10)), lossless=virtual,
                                                              poll_s=CONSUMER_POLL_S),
                                         sources.processes.rows, config.proc_interval_s, self._notice,
                                         sources.processes.drain_notices)
            self.processes.on_failure = self._writer_failed
        self._process_journal: ProcessJournal | None = None
        self.recorder: Recorder | None = None
        self.session: Path | None = None
        if config.record:
            self.open_recording()
        for message in sources.notices:
            self._notice(message)
        udp = self.udp_address()
        if udp is not None and on_notice is not None:  # said, not a warning of the session
            on_notice(f"probe events over UDP on 127.0.0.1:{udp['port']}, each datagram headed by the line "
                      f'{{"token": "{udp["token"]}"}} (RIGSCOPE_PROBE_UDP={udp["port"]} RIGSCOPE_TOKEN={udp["token"]})')
        self.http: Any = None  # rigscope.http_server.HttpExporter, bound at start()
        if config.http is not None:
            from rigscope.http_server import HttpExporter

            self.http = HttpExporter(self, *config.http, token=config.http_token)

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        if self.recorder is not None:
            self.recorder.meta.setdefault("warnings", []).append(message)
        if self._on_notice is not None:
            self._on_notice(message)

    def _writer_failed(self, what: str, error: BaseException) -> None:
        """A writer of the session (spans, process rows) failed: the recording stops, `interrupted` with why."""
        if self.recorder is not None:
            self.recorder.fail(f"recording stopped: {what} not written: {write_failure(error, self.session)}")

    def open_recording(self) -> None:
        """Create the session directory and its recorder (at construction unless `config.record` is False)."""
        virtual_time = isinstance(self.clock, VirtualClock)
        # --realtime writes every sample as it comes; otherwise the recorder looks a few times a flush.
        poll_s = 0.0 if self.config.realtime else min(CONSUMER_POLL_S, self.config.flush_interval_s / 4)
        frames = self.sampler.subscribe(maxsize=1000 if virtual_time else max(1000, int(self.config.hz * 60)),
                                        lossless=virtual_time, poll_s=poll_s)
        started = datetime.fromtimestamp(self.clock.wall_us() / 1e6, UTC)
        host_name = "sim-rig" if self.config.source == "sim" else None
        self.session = create_session_dir(sessions_dir(self.config.directory), started, host_name,
                                          private=not self.config.shared_dir)
        if self.receiver is not None:
            _listen_local(self.receiver, self.session.name)
        options = RecorderOptions(self.config.formats, self.config.realtime,
                                  self.config.flush_interval_s, self.config.segment_interval_s)
        self.spans.set_journal(self.session / SPANS_JOURNAL)
        if self.processes is not None:
            self._process_journal = ProcessJournal(self.session, self.config.segment_interval_s)
            self.processes.sink = self._process_journal.append
        self.recorder = Recorder(self.session, self.build_meta(started), self.columns, frames,
                                 options, summary=self._summary, on_close=self._close_tables)

    def _summary(self) -> dict[str, Any]:
        self._workload.finished.wait(SPANS_CLOSE_WAIT_S)
        return {**self.signals.summary(), "spans": self.spans.summary(), "event_receiver": self.event_stats()}

    def _close_tables(self) -> None:
        """At the recorder's close: processes.parquet once the process tier finished, and the spans."""
        if self.processes is not None and self._process_journal is not None:
            self.processes.finished.wait(SPANS_CLOSE_WAIT_S)
            self._process_journal.close()
        self._close_spans()

    def _close_spans(self) -> None:
        """Once the span tracker finished: spans.parquet (and spans.csv)."""
        self._workload.finished.wait(SPANS_CLOSE_WAIT_S)
        if self._workload.error:
            self._notice(self._workload.error)
        assert self.session is not None
        try:
            write_span_tables(self.session, csv="csv" in self.config.formats)
        except OSError:
            raise
        except Exception as error:  # noqa: BLE001 (the journal stays; the session still closes)
            self._notice(f"spans table not written ({error}); the rows are in {SPANS_JOURNAL}")

    def build_meta(self, started: datetime) -> dict[str, Any]:
        config, sources = self.config, self.sources
        host = dict(sources.host)
        host["hardware_tier"] = hardware_tier(host.get("cpu_model"), [g.get("name") or "" for g in sources.gpus])
        host["device_type"] = "cuda" if sources.gpus else "cpu"
        return {
            "format": FORMAT,
            "session_id": self.session.name if self.session else None,
            "status": "recording",
            "session_start": iso_from_us(self.clock.wall_us()),
            "session_end": None,
            "session_length_sec": config.duration_s,
            # The machine's clocks at the start, for timeline viewers; a sped-up or virtual clock has no place there.
            "clocks": machine_clocks() if isinstance(self.clock, RealClock) else None,
            "model_name": config.model_name,
            "training_mode": config.training_mode,
            "notes": config.notes,
            "host": host,
            "gpus": sources.gpus,
            "hardware": {"cpu_count": host.get("cpu_count_logical"), "gpu_enabled": bool(sources.gpus),
                         "hwinfo_enabled": False},
            "monitoring": {
                "sample_hz": config.hz,
                "flush_interval_s": config.flush_interval_s,
                "segment_interval_s": config.segment_interval_s,
                "realtime_flush": config.realtime,
                "formats": sorted(config.formats),
                "source": sources.source,
                "collectors": [c.name for c in sources.collectors],
                "proc_interval_s": config.proc_interval_s if self.processes is not None else None,
                "gpm_interval_s": config.gpm_interval_s if sources.gpu_indices else None,
                "event_socket": self.receiver.path if self.receiver else None,
                "probe_udp": self.udp_address(),
            },
            "recorder": {"pid": os.getpid(), "hostname": socket.gethostname(), "version": __version__,
                         "argv": sys.argv[1:]},
            "warnings": list(self.notices),
            "total_samples": 0,
            "summary": {},
        }

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        gc.freeze()  # what exists now lives as long as the session: out of the full collections (see tui.app)
        self._workload.start()
        if self.processes is not None:
            self.processes.start()
        if self.http is not None:  # first: a port taken since the flags were checked stops everything
            self.http.start()
        if self.recorder is not None:
            self.recorder.start()
        if self.receiver is not None:
            if self.receiver.path is None:  # not recording: a socket of its own all the same
                _listen_local(self.receiver, LIVE)
            self.receiver.start()
        self.sampler.start()

    def stop(self) -> None:
        """Stop sampling, let the recorder close the session, release collectors."""
        self.sampler.stop()
        self.sampler.join()
        if self.recorder is not None:
            self.recorder.join()
        self._workload.join(SPANS_CLOSE_WAIT_S)
        if self.processes is not None:  # before the collectors close: it reads through the GPU's backend
            self.processes.join(SPANS_CLOSE_WAIT_S)
        if self.http is not None:
            self.http.close()
        self.release()
        gc.unfreeze()  # a process that goes on (tests, a new recording) collects it again

    def release(self) -> None:
        """Free the event channels and the collectors (also for a monitor that was never started)."""
        self.close_receiver()
        for collector in self.sources.collectors:
            collector.close()

    def udp_address(self) -> dict[str, Any] | None:
        """{port, token} of the UDP channel (`--probe-udp`); None when it is not open."""
        receiver = self.receiver
        if receiver is None or receiver.port is None:
            return None
        return {"host": "127.0.0.1", "port": receiver.port, "token": receiver.token}

    def close_receiver(self) -> None:
        """Stop taking events and free the socket and port (a new session that replaces this one takes the port)."""
        if self.receiver is not None:
            self.receiver.close()
            self._receiver_stats = self.receiver.stats()
            self.receiver = None

    def event_stats(self) -> dict[str, Any]:
        """The event receiver's counters (received, rejected, rate_limited, ...), kept after it closes."""
        return self.receiver.stats() if self.receiver is not None else dict(self._receiver_stats)

    def wait(self, poll_s: float = 0.2, on_poll: Callable[[], None] | None = None) -> None:
        """Block until the duration ends, a writer fails (the recorder's error), or stop() is called elsewhere."""
        while not self.sampler.finished.wait(poll_s):
            if on_poll is not None:
                on_poll()
            if self.recorder is not None and self.recorder.error:
                break

    # -- events from this process -----------------------------------------
    def post(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"ts": iso_from_us(self.clock.wall_us()), "kind": kind, **fields}
        self.sampler.post_event(event)
        return event

