"""Wires a monitoring session together: collectors -> sampler (+ signals) -> recorder, plus the event receiver.

`record`, the dashboard and the tests all build their session through
`Monitor`, so they run exactly the same pipeline.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors import gc_freeze
from collectors.base import Collector
from collectors.clock import Clock, RealClock, ScaledClock, VirtualClock, machine_clocks
from collectors.metrics import MetricHistory
from collectors.notices import NoticeSink
from collectors.process_rows import ProcessSnapshot
from collectors.process_tier import ProcessTier
from collectors.receiver import EventReceiver
from collectors.sampler import Sampler, SamplerStats
from collectors.schema import gpu_column, session_columns
from collectors.signals import SignalPipeline
from collectors.span_stats import SpanStatistics
from collectors.spans import SpanTracker
from collectors.stream import CONSUMER_POLL_S, PROCESS_TIER, SESSION_WRITER, SPAN_ASSEMBLER, FrameQueue, Sink
from collectors.timeutil import iso_from_us
from collectors.workload_events import WorkloadEvents
from recordings.errors import InputError
from recordings.recorder import RecorderOptions
from recordings.session import FORMAT, create_session_dir, sessions_dir
from recordings.session_writer import SessionWriter
from recordings.tier import hardware_tier
from rigscope import __version__
from rigscope.local_channel import LIVE, channel_dir, new_socket_path, remove_stale

CONSUMERS_STOP_WAIT_S = 10.0  # how long stopping waits for the span and process threads to end
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
    host_hz: float = 2.0  # memory, swap, disk and network reads a second (--host-hz)
    attach: bool = False  # publish the stream for viewers on a per-user socket (`record`, `run`: rigscope attach)


@dataclass
class Sources:
    collectors: list[Collector]
    gpu_indices: list[int]
    host: dict[str, Any]
    gpus: list[dict[str, Any]]
    notices: list[str] = field(default_factory=list)
    source: str = "system"
    processes: Any = None  # rows(ts_us, frame) and drain_notices() of the process tier; None: no tier


def _system_sources(config: MonitorConfig, nvml_backend: Any = None,
                    waiting: Callable[[str], None] = lambda _: None) -> Sources:
    """`waiting` is told when NVML is slow to answer (said, not kept: it may well answer)."""
    from collectors.cpu import CpuCollector
    from collectors.gpu import open_gpu_collector_within
    from collectors.host import HostCollector
    from collectors.hostinfo import host_info
    from collectors.rapl import RaplCollector
    from collectors.self_usage import SelfUsageCollector

    collectors: list[Collector] = []
    if config.mode != "gpu":
        collectors += [CpuCollector(), RaplCollector()]
    collectors.append(HostCollector(config.host_hz))
    collectors.append(SelfUsageCollector())
    sources = Sources(collectors, [], host_info(), [])
    if config.mode != "cpu":
        try:
            gpu, reason = open_gpu_collector_within(waiting, backend=nvml_backend, gpus_flag=config.gpus,
                                                    environ=os.environ, gpm_interval_s=config.gpm_interval_s)
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

    collector = SimulatedCollector(gpu_count=config.gpus_sim, seed=config.seed, host_hz=config.host_hz)
    info = collector.info()
    gpus = info["gpus"]
    if config.gpus is not None:
        _check_simulated_gpus(config.gpus, [g["uuid"] for g in gpus])
    return Sources([collector, SelfUsageCollector()], [g["index"] for g in gpus], info["host"], gpus,
                   source="simulated", processes=SimulatedProcesses(config.gpus_sim, config.seed))


def _check_simulated_gpus(flag: str, uuids: list[str]) -> None:
    """`--gpus` on the simulated source: every GPU it names must be there, and it must name them all (the
    simulation records all its GPUs; --gpus-sim sets how many)."""
    from collectors.gpu import select_gpu_indices

    try:
        chosen = select_gpu_indices(len(uuids), uuids, None, flag)
    except ValueError as error:
        raise InputError(str(error)) from None
    if len(chosen) != len(uuids):
        raise InputError(f"--gpus {flag}: the simulated source records all its {len(uuids)} GPUs "
                         f"(set how many with --gpus-sim)")


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
                   udp: tuple[int, str] | None) -> EventReceiver:
    """The event receiver; with `udp` (port, token), also listening on that loopback port for datagrams with
    the token.
    The runtime directory is checked first: a session is not started where its socket cannot be."""
    try:
        channel_dir(create=True)
    except OSError as error:
        raise InputError(f"cannot open the event socket: {error}") from None
    receiver = EventReceiver(handler, on_notice=on_notice)
    if udp is not None:
        udp_port, token = udp
        try:
            receiver.listen_udp(udp_port, token)
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


@dataclass(frozen=True)
class RecordingState:
    """Where a recording stands, for a status line or the screen's header."""

    session: Path
    samples: int
    bytes_written: int
    last_flush_wall: float | None  # time.time() of the last flush; None before the first
    closed: bool
    error: str | None


class Monitor:
    """One monitoring session: starts and stops the sampling, derived signals, recording and incoming events.

    Commands and the dashboard read it through the methods below (what a session shows, posting
    events, where its recording stands); the writer, the span assembler and the process tier are
    handed what they need when they are made, and never call back into it.
    """

    def __init__(
        self,
        config: MonitorConfig,
        clock: Clock | None = None,
        nvml_backend: Any = None,
        on_notice: Callable[[str], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """`on_wait`: told while the sources are slow to open (NVML), as it happens; `on_notice` by default."""
        from collectors.overrides import FixedValues

        self.config = config
        self.clock = clock or make_clock(config)
        self.notices = NoticeSink(*(() if on_notice is None else (on_notice,)))  # told from every thread
        self._host_facts: dict[str, Any] | None = None  # worked out at the first ask: the sources never change them
        self._on_notice = on_notice  # the attach publisher's viewer news: said, not kept in meta.json
        sources = (_simulated_sources(config) if config.source == "sim"
                   else _system_sources(config, nvml_backend, on_wait or on_notice or (lambda _: None)))
        overrides = _overrides(config, sources.gpu_indices)
        if overrides:
            sources.collectors.append(FixedValues(overrides))
        self.sources = sources
        self.gpu_indices = sources.gpu_indices
        self.columns = session_columns(sources.gpu_indices)
        self.signals = SignalPipeline(sources.gpu_indices)
        self.sampler = Sampler(sources.collectors, config.hz, self.clock, config.duration_s,
                               self.signals, on_notice=self.notices.tell)
        # The session's token: what a UDP datagram and an HTTP POST /events (unless --http-token) must carry.
        self.session_token = secrets.token_urlsafe(16)
        self.receiver: EventReceiver | None = None
        self._receiver_stats: dict[str, Any] = {}
        self._receiver_lock = threading.Lock()  # closed by the sampler's thread at its end, or by stop()
        self._receiving_ended = False  # the sampler ended: no receiver may open again (nothing would record)
        self.sampler.on_end = self._end_receiving
        if config.receive_events:
            self.receiver = _open_receiver(self.sampler.post_event, self.notices.tell,
                                           None if config.probe_udp is None else (config.probe_udp, self.session_token))
        # Spans and custom metrics of instrumented workloads (rigscope.span, rigscope.metric), live.
        self.spans = SpanTracker(sources.gpu_indices, _host_facts(sources), sources.gpus)
        self.metrics = MetricHistory()
        self._workload = WorkloadEvents(self.sampler.subscribe(SPAN_ASSEMBLER), self.spans, self.metrics,
                                        on_notice=self.notices.tell, tell=self.sampler.stream.tell)
        self.processes: ProcessTier | None = None
        if sources.processes is not None:
            self.processes = ProcessTier(self.sampler.subscribe(PROCESS_TIER), sources.processes.rows,
                                         config.proc_interval_s, self.notices.tell, sources.processes.drain_notices,
                                         tell=self.sampler.stream.tell)
        self.recorder: SessionWriter | None = None  # the session writer, when recording
        self.session: Path | None = None
        self.attach: Any = None  # rigscope.serve.attach.AttachPublisher, when recording with config.attach
        if config.record:
            try:
                self.open_recording()
            except InputError:
                self.release()  # the event and attach sockets it opened
                raise
        for message in sources.notices:
            self.notices.tell(message)
        udp = self.udp_address()
        if udp is not None and on_notice is not None:  # said, not a warning of the session
            on_notice(f"probe events over UDP on 127.0.0.1:{udp['port']}, each datagram headed by the line "
                      f'{{"token": "{udp["token"]}"}} (RIGSCOPE_PROBE_UDP={udp["port"]} RIGSCOPE_TOKEN={udp["token"]})')
        self.http: Any = None  # rigscope.serve.http_server.HttpExporter, bound at start()
        if config.http is not None:
            from rigscope.serve.wiring import serve_http

            self.http = serve_http(self, *config.http, token=config.http_token or self.session_token)
            if config.http_token is None and on_notice is not None:
                on_notice(f"POST /events needs the header 'Authorization: Bearer {self.session_token}' "
                          f"(the session's token; --http-token or RIGSCOPE_HTTP_TOKEN to choose one)")

    def open_recording(self) -> None:
        """Create the session directory and its recorder (at construction unless `config.record` is False)."""
        # --realtime writes every sample as it comes; otherwise the recorder looks a few times a flush.
        latency_s = 0.0 if self.config.realtime else min(CONSUMER_POLL_S, self.config.flush_interval_s / 4)
        frames = self.sampler.subscribe(dataclasses.replace(SESSION_WRITER, latency_s=latency_s))
        started = datetime.fromtimestamp(self.clock.wall_us() / 1e6, UTC)
        host_name = "sim-rig" if self.config.source == "sim" else None
        self.session = create_session_dir(sessions_dir(self.config.directory), started, host_name,
                                          private=not self.config.shared_dir)
        if self.receiver is not None:
            _listen_local(self.receiver, self.session.name)
        if self.config.attach:
            self._publish()
        options = RecorderOptions(self.config.formats, self.config.realtime,
                                  self.config.flush_interval_s, self.config.segment_interval_s)
        feeds = [self._workload.finished] + ([self.processes.finished] if self.processes is not None else [])
        writer = SessionWriter(self.session, self.build_meta(started), self.columns, frames, options,
                               summary=self._summary, feeds=feeds, processes=self.processes is not None)
        self.spans.set_sink(writer.take_span)
        self._workload.on_failure = writer.write_failed
        if self.processes is not None:
            self.processes.sink = writer.take_processes
            self.processes.on_failure = writer.write_failed
        self.notices.listen(writer.warn)  # meta.json's warnings: those before it are in build_meta's
        self.recorder = writer

    def _publish(self) -> None:
        """The attach socket of this session, bound before meta.json is written (it names it)."""
        from rigscope.serve.wiring import serve_attach

        assert self.session is not None  # made by open_recording, before this
        try:
            self.attach = serve_attach(self, self.session, self._on_notice or (lambda _: None))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot open the attach socket for {self.session}: {error}") from None

    def _summary(self) -> dict[str, Any]:
        """meta.json's summary, once the threads that feed the writer are done (it waits for them)."""
        return {**self.signals.summary(), "spans": self.spans.summary(), "event_receiver": self.event_stats(),
                "stream_drops": self.sampler.stream.drops()}

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
                "host_hz": config.host_hz,
                "event_socket": self.receiver.path if self.receiver else None,
                "attach_socket": self.attach.path if self.attach is not None else None,
                "probe_udp": self._udp_for_meta(),
            },
            "recorder": {"pid": os.getpid(), "hostname": socket.gethostname(), "version": __version__,
                         "argv": sys.argv[1:]},
            "warnings": self.notices.messages(),
            "total_samples": 0,
            "summary": {},
        }

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        gc_freeze.hold()  # what exists now lives as long as the session: out of the full collections
        self._workload.start()
        if self.processes is not None:
            self.processes.start()
        if self.http is not None:  # first: a port taken since the flags were checked stops everything
            self.http.start()
        if self.recorder is not None:
            self.recorder.start()
        if self.attach is not None:
            self.attach.start()
        if self.receiver is not None:
            if self.receiver.path is None:  # not recording: a socket of its own all the same
                _listen_local(self.receiver, LIVE)
            self.receiver.start()
        self.sampler.start()

    def stop(self) -> None:
        """Stop sampling, let the recorder close the session, release collectors."""
        self.close_receiver()  # first: an event its sender counts as sent is taken before the stream ends
        self.sampler.stop()
        self.sampler.join()
        if self.recorder is not None:
            self.recorder.join()
        self._workload.join(CONSUMERS_STOP_WAIT_S)
        if self.processes is not None:  # before the collectors close: it reads through the GPU's backend
            self.processes.join(CONSUMERS_STOP_WAIT_S)
        if self.http is not None:
            self.http.close()
        if self.attach is not None:  # it said bye to its viewers at the stream's end
            self.attach.join(CONSUMERS_STOP_WAIT_S)
        self.release()
        gc_freeze.release()  # a process that goes on (tests, a new recording) collects it again

    def release(self) -> None:
        """Free the event channels and the collectors (also for a monitor that was never started)."""
        self.close_receiver()
        if self.attach is not None:
            self.attach.close()
        hung = self.processes is not None and self.processes.running  # inside a call through the GPU's backend
        for collector in self.sources.collectors:
            if not (hung and collector.name == "nvml"):  # never shut NVML down under a call that still runs
                collector.close()

    def udp_address(self) -> dict[str, Any] | None:
        """{port, token} of the UDP channel (`--probe-udp`); None when it is not open."""
        receiver = self.receiver
        if receiver is None or receiver.port is None:
            return None
        return {"host": "127.0.0.1", "port": receiver.port, "token": receiver.token}

    def _udp_for_meta(self) -> dict[str, Any] | None:
        """meta.json's `probe_udp`: the token only in a private session folder. Under --shared-dir
        other users read meta.json, and the token is what lets a sender in (UDP and POST /events)."""
        udp = self.udp_address()
        if udp is not None and self.config.shared_dir:
            udp["token"] = None
        return udp

    def reopen_receiver(self) -> None:
        """Take events again after `close_receiver` (the replacement it made way for could not start); InputError
        when its socket or port cannot be had."""
        with self._receiver_lock:
            if self.receiver is not None or not self.config.receive_events or self._receiving_ended:
                return
            udp = None if self.config.probe_udp is None else (self.config.probe_udp, self.session_token)
            receiver = _open_receiver(self.sampler.post_event, self.notices.tell, udp)
            _listen_local(receiver, self.session.name if self.session is not None else LIVE)
            receiver.start()
            self.receiver = receiver

    def _end_receiving(self) -> None:
        """The sampler's last act before its stream ends (its thread): events stop for good."""
        with self._receiver_lock:
            self._receiving_ended = True
        self.close_receiver()

    def close_receiver(self) -> None:
        """Stop taking events and free the socket and port (a new session that replaces this one takes the port)."""
        with self._receiver_lock:
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
            if self.recording_error:
                break

    def subscribe(self, sink: Sink) -> FrameQueue:
        """A queue of the session's frame stream for a sink of the caller's (the screen), before `start`."""
        return self.sampler.subscribe(sink)

    def request_stop(self) -> None:
        """End the sampling from any thread (a signal handler): `wait` returns, `stop` closes the session."""
        self.sampler.stop()

    @property
    def sampling_ended(self) -> bool:
        return self.sampler.finished.is_set()

    # -- what the session shows ----------------------------------------------
    def host_facts(self) -> dict[str, Any]:
        """The host as meta.json has it (with its hardware tier and device type): a copy of what was worked out
        once (the header asks for it at every redraw)."""
        if self._host_facts is None:
            self._host_facts = _host_facts(self.sources)
        return dict(self._host_facts)

    @property
    def gpus(self) -> list[dict[str, Any]]:
        """The GPUs sampled (index, name, GPM support), as meta.json has them."""
        return self.sources.gpus

    @property
    def stats(self) -> SamplerStats:
        """The sampler's counters: samples, elapsed time, achieved rate."""
        return self.sampler.stats

    def summary(self) -> dict[str, Any]:
        """The derived signals' summary so far, with the spans': what checks and status lines read."""
        return {**self.signals.summary(), "spans": self.spans.summary()}

    def workload_state(self) -> tuple[str | None, str | None]:
        """(state, where it came from: "tag" or the signals)."""
        return self.signals.workload.state

    def process_snapshot(self) -> ProcessSnapshot | None:
        """The latest process rows; None on a source without a process tier."""
        return self.processes.latest if self.processes is not None else None

    def recording_state(self) -> RecordingState | None:
        """None when not recording."""
        writer = self.recorder
        if writer is None or self.session is None:
            return None
        return RecordingState(self.session, writer.samples, writer.bytes_written, writer.last_flush_wall,
                              writer.closed.is_set(), writer.error)

    @property
    def recording_error(self) -> str | None:
        """Why the recording stopped (a full disk); None while it goes well or when not recording."""
        return self.recorder.error if self.recorder is not None else None

    def annotate(self, **facts: Any) -> None:
        """Facts of the session into its meta.json (a controlled run's command, its error)."""
        if self.recorder is not None:
            self.recorder.annotate(**facts)

    # -- events from this process -----------------------------------------
    def now_iso(self) -> str:
        return iso_from_us(self.clock.wall_us())

    def post(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"ts": self.now_iso(), "kind": kind, **fields}
        self.sampler.post_event(event)
        return event

    def post_event(self, event: dict[str, Any]) -> None:
        """An event already stamped (a key pressed on the dashboard); a tag steers the workload state."""
        self.sampler.post_event(event)

    def refuse_event(self) -> None:
        """Count an event refused for its token (POST /events), as the receiver counts datagrams without it."""
        receiver = self.receiver  # read once: the stop may close it from another thread in between
        if receiver is not None:
            receiver.refused_token += 1

    def offer_event(self, event: dict[str, Any]) -> bool:
        """An event from outside (POST /events): through the receiver's rate limits when there is one;
        False when they drop it."""
        receiver = self.receiver  # read once: the stop may close it from another thread in between
        if receiver is not None:
            return receiver.offer(event)
        self.sampler.post_event(event)
        return True

    @property
    def source_name(self) -> str:
        """Where the readings come from: "system" or "simulated"."""
        return self.sources.source

    @property
    def span_statistics(self) -> SpanStatistics:
        """The finished spans' statistics, as the dashboard, meta.json and /metrics read them."""
        return self.spans.stats

