"""The probe through a workload's process life: fork inside a span, a signal handler that posts or
flushes while the probe is busy, events posted from the workload's own exit handlers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rigscope
from rigscope import probe

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_inside_a_span_does_not_end_its_parents_span(listener):
    with rigscope.span("startup") as opened:
        probe.flush()
        pid = os.fork()  # a pre-fork server: its worker leaves the block too
    if pid == 0:
        try:
            with rigscope.span("child_work"):
                pass
            probe.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    events = listener.collect(4)
    listener.collect(5, timeout_s=0.3)  # a duplicate end would come within this
    ends = [e for e in listener.events if e["kind"] == "span_end"]
    assert sorted(e["name"] for e in ends) == ["child_work", "startup"]
    assert [e["span_id"] for e in ends if e["name"] == "startup"] == [opened.span_id]
    assert len(events) == 4


SIGNAL_INSIDE_FLUSH = """
import signal, threading
import rigscope
from rigscope import probe, probe_transport

def on_term(signum, frame):  # a training script's preemption handler
    rigscope.note("preempted")
    probe.flush(0.5)

signal.signal(signal.SIGUSR1, on_term)
opening = probe_transport.Transport._open

def open_then_signal(self):  # the signal lands while the main thread's flush holds the probe's lock
    if threading.current_thread() is threading.main_thread():
        signal.raise_signal(signal.SIGUSR1)
    return opening(self)

probe_transport.Transport._open = open_then_signal
rigscope.note("step 10")
probe.flush()
print("done", probe.stats()["queued"])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX signals")
def test_a_signal_handler_that_flushes_inside_the_probes_own_flush_does_not_deadlock(listener):
    result = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_FLUSH], cwd=REPO, timeout=10,
                            capture_output=True, text=True)
    assert result.stdout.split() == ["done", "0"], result.stderr
    assert sorted(e["text"] for e in listener.collect(2)) == ["preempted", "step 10"]


POST_AT_EXIT = """
import atexit, threading  # threading: as any ML workload (torch, numpy) has imported it
import rigscope

atexit.register(lambda: rigscope.note("run ended"))  # the workload's own exit handler
with rigscope.span("train"):
    rigscope.note("step 10")
"""


@pytest.mark.parametrize("used_before_exit", [True, False])
def test_events_posted_by_the_workloads_exit_handlers_are_sent(listener, used_before_exit):
    code = POST_AT_EXIT if used_before_exit else POST_AT_EXIT.split("with")[0]
    expected = ["step 10", "run ended"] if used_before_exit else ["run ended"]
    events = len(expected) + (2 if used_before_exit else 0)  # and the span's start and end
    for _ in range(3):  # the sender thread must not win a race by luck
        listener.events.clear()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=10, check=True)
        notes = [e["text"] for e in listener.collect(events, timeout_s=2) if e["kind"] == "note"]
        assert notes == expected


IN_A_CONTAINER = """
import rigscope
with rigscope.span("req"):
    pass
"""


def unshared(code: str) -> list[str]:
    """A command running `code` as pid 1 of a PID namespace of its own (a container's workload)."""
    return ["unshare", "--pid", "--fork", sys.executable, "-c", code]


def test_workloads_in_two_containers_both_pid_1_send_spans_with_distinct_ids(listener):
    probe_run = shutil.which("unshare") and subprocess.run(unshared("import os; print(os.getpid())"),
                                                           capture_output=True, text=True, check=False)
    if not probe_run or probe_run.stdout.strip() != "1":
        pytest.skip("no PID namespaces here (unshare needs privileges)")
    for _ in range(2):
        subprocess.run(unshared(IN_A_CONTAINER), cwd=REPO, timeout=10, check=True)
    ends = [e for e in listener.collect(4) if e["kind"] == "span_end"]
    assert len(ends) == 2 and ends[0]["span_id"] != ends[1]["span_id"], ends
    assert all(e["span_id"].startswith("1-") for e in ends)


def test_a_generator_left_early_and_a_clean_exit_end_their_spans_as_successes(listener):
    def batches():
        with rigscope.span("epoch"):
            yield from range(10)

    for batch in batches():
        if batch == 2:
            break  # the loop had what it needed: the generator is closed (GeneratorExit inside the span)
    for code in (0, None, 3):
        with pytest.raises(SystemExit), rigscope.span(f"main {code}"):
            sys.exit(code)
    ends = {e["name"]: e for e in listener.collect(8) if e["kind"] == "span_end"}
    assert ends["epoch"]["success"] is True and ends["epoch"]["error"] is None
    assert ends["main 0"]["success"] is True and ends["main None"]["success"] is True
    assert ends["main 3"]["success"] is False and ends["main 3"]["error"] == "SystemExit: 3"


STOPPED_RECORDER_AT_EXIT = """
import atexit, threading
import rigscope
from rigscope import probe, probe_transport

probe_transport.EXIT_FLUSH_S = 1.0
for step in range(40):  # more datagrams than an unread socket holds: the rest wait in the queue
    rigscope.metric("loss", 1.0, step=step)
    probe.flush()
atexit.register(lambda: [rigscope.note(f"closing {i}") for i in range(20)])
"""


def test_exit_handlers_posting_to_a_stopped_recorder_wait_once_not_once_per_event(listener):
    """A dashboard suspended with Ctrl-Z reads nothing: the exit waits for room once (EXIT_FLUSH_S,
    here 1 s), not once more for each event an exit handler posts (21 s)."""
    subprocess.run([sys.executable, "-c", STOPPED_RECORDER_AT_EXIT], cwd=REPO, timeout=10, check=True)


SIGNAL_INSIDE_WAKE = """
import signal, sys, time
import rigscope
from rigscope import probe

signal.signal(signal.SIGUSR1, lambda signum, frame: rigscope.note("preempted"))
rigscope.tag("train")
probe.flush()
time.sleep(0.2)  # the sender waits for the next event: the next post wakes it
fired = []

def tracer(frame, event, arg):  # the signal lands while the post wakes the sender (a lock held there)
    if frame.f_code.co_name in ("notify", "notify_all") and not fired:
        fired.append(True)
        signal.raise_signal(signal.SIGUSR1)

sys.settrace(tracer)
rigscope.note("step 10")
sys.settrace(None)
if not fired:
    signal.raise_signal(signal.SIGUSR1)
probe.flush(0.5)
print("done")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX signals")
def test_a_signal_handler_that_posts_while_a_post_wakes_the_sender_does_not_deadlock(listener):
    result = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_WAKE], cwd=REPO, timeout=10,
                            capture_output=True, text=True)
    assert result.stdout.split() == ["done"], result.stderr
    assert sorted(e.get("text", "") for e in listener.collect(3)) == ["", "preempted", "step 10"]


MAIN_ENDS_FIRST = """
import threading, time
import rigscope
from rigscope import probe_transport

flushed_by: list[str] = []
flushing = probe_transport.transport.flush

def flush(timeout_s=0.0):
    flushed_by.append(threading.current_thread().name)
    return flushing(timeout_s)

probe_transport.transport.flush = flush

def serve():  # a server thread that goes on after the main thread returned
    while threading.main_thread().is_alive():
        time.sleep(0.01)
    for request in range(50):
        rigscope.metric("latency", 0.1, step=request)
    print("posts flushed by the server thread:", flushed_by.count("server"))

rigscope.note("main done")
threading.Thread(target=serve, name="server").start()
"""


def test_a_thread_that_goes_on_after_the_main_thread_ended_posts_at_the_usual_cost(listener):
    """Its posts are queued for the sender thread as before the exit began, not each sent as posted
    (a syscall each), and those it makes last are still sent."""
    result = subprocess.run([sys.executable, "-c", MAIN_ENDS_FIRST], cwd=REPO, timeout=10, check=True,
                            capture_output=True, text=True)
    assert result.stdout.strip() == "posts flushed by the server thread: 0", result.stdout + result.stderr
    steps = [e["step"] for e in listener.collect(51) if e["kind"] == "metric"]
    assert steps == list(range(50))
