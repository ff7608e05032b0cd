"""Direct /proc reads give psutil's numbers on this machine, field by field; psutil stays the fallback."""

from __future__ import annotations

import os
import sys
from typing import Any

import psutil
import pytest

from collectors import procfs
from collectors.cpu import CpuCollector
from collectors.host import HostCollector, ProcfsHost, PsutilHost
from collectors.self_usage import SelfUsageCollector

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MEMORY_SLACK = 64 << 20  # other processes allocate between two reads: "within a tick", not to the byte


def between(low: float, value: float, high: float, slack: float = 0) -> bool:
    return min(low, high) - slack <= value <= max(low, high) + slack


def test_disk_and_network_counters_fall_between_two_psutil_reads():
    host = ProcfsHost.open()
    assert host is not None
    before_disk, before_net = psutil.disk_io_counters(), psutil.net_io_counters()
    read, written, received, sent = host.counters()
    after_disk, after_net = psutil.disk_io_counters(), psutil.net_io_counters()
    assert between(before_disk.read_bytes, read, after_disk.read_bytes)
    assert between(before_disk.write_bytes, written, after_disk.write_bytes)
    assert between(before_net.bytes_recv, received, after_net.bytes_recv)
    assert between(before_net.bytes_sent, sent, after_net.bytes_sent)


def test_memory_and_swap_match_psutil():
    host = ProcfsHost.open()
    assert host is not None
    before, swap_before = psutil.virtual_memory(), psutil.swap_memory()
    total, used, percent, swap_used = host.memory()
    after, swap_after = psutil.virtual_memory(), psutil.swap_memory()
    assert total == before.total == after.total
    assert between(before.total - before.available, used, after.total - after.available, MEMORY_SLACK)
    assert between(before.percent, percent, after.percent, 100.0 * MEMORY_SLACK / total)
    assert between(swap_before.used, swap_used, swap_after.used, MEMORY_SLACK)
    assert PsutilHost().memory()[0] == total


def test_cpu_ticks_fall_between_two_psutil_reads_and_percent_is_psutils_arithmetic(monkeypatch):
    stat = procfs.ProcFile("/proc/stat")
    before = psutil.cpu_times(percpu=True)
    ours = procfs.cpu_times(stat.read())
    after = psutil.cpu_times(percpu=True)
    assert len(ours) == len(before) == psutil.cpu_count()

    def ticks(times: tuple) -> tuple[float, float]:  # psutil's busy and total, in ticks
        total = sum(times) - times.guest - times.guest_nice
        return (total - times.idle - times.iowait) * TICKS, total * TICKS

    for (busy, total), t0, t1 in zip(ours, before, after):
        assert between(ticks(t0)[0], busy, ticks(t1)[0], 1)
        assert between(ticks(t0)[1], total, ticks(t1)[1], 1)
    # the same two readings through psutil.cpu_percent and through ours give the same percentages
    later = [(busy + 7 * i, total + 10 + 3 * i) for i, (busy, total) in enumerate(ours)]
    def as_psutil(pairs: list[tuple[int, int]]) -> list:
        fields = len(before[0])
        return [type(before[0])(b / TICKS, 0, 0, (t - b) / TICKS, *[0] * (fields - 4)) for b, t in pairs]

    readings = iter([as_psutil(ours), as_psutil(later)])
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: next(readings))
    psutil.cpu_percent(percpu=True)
    assert procfs.busy_percent(ours, later) == psutil.cpu_percent(percpu=True)
    stat.close()


def test_own_cpu_time_and_resident_memory_match_psutil():
    process = psutil.Process()
    stat = procfs.ProcFile("/proc/self/stat")
    before, rss_before = process.cpu_times(), process.memory_info().rss
    user, system, pages = procfs.task_stat(stat.read())
    after, rss_after = process.cpu_times(), process.memory_info().rss
    assert between(before.user * TICKS, user, after.user * TICKS, 1)
    assert between(before.system * TICKS, system, after.system * TICKS, 1)
    assert between(rss_before, pages * PAGE, rss_after, 1 << 20)
    stat.close()


def test_a_name_with_spaces_and_parentheses_does_not_shift_the_fields():
    line = b"42 (evil ) 1 2 (x) S 1 1 1 0 -1 4194304 0 0 0 0 17 23 0 0 20 0 5 0 100 1000 250 0"
    assert procfs.task_stat(line) == (17, 23, 250)


def test_collectors_fall_back_to_psutil_where_proc_cannot_be_read(monkeypatch):
    assert procfs.open_procfs("/proc/no-such-file", procfs.meminfo) is None
    assert procfs.open_procfs("/proc/self/stat", procfs.meminfo) is None  # there, but not the fields needed
    monkeypatch.setattr(procfs, "open_procfs", lambda path, parse: None)
    assert isinstance(HostCollector().reads, PsutilHost)
    assert HostCollector().read(0.0)["mem_total_bytes"] == psutil.virtual_memory().total
    cores = CpuCollector().read(0.0)["cpu_core_util_pct"]
    assert len(cores) == psutil.cpu_count()
    reading = SelfUsageCollector().read(0.0)
    assert reading["self_rss_bytes"] > 0 and reading["self_cpu_pct"] is not None


def test_the_thread_budget_names_each_threads_role():
    from collectors.self_usage import budget_text, role

    assert [role(n) for n in ("MainThread", "rigscope-sampler", "rigscope-nvml-12", "Thread-3 (run)")] == [
        "main", "sampler", "nvml", "other"]
    assert budget_text({"sampler": 0.8, "main": 1.94, "feed": 0.8}) == "main=1.9 feed=0.8 sampler=0.8"


def test_a_busy_thread_owns_its_share_of_the_budget():
    import threading
    import time

    from collectors.self_usage import ThreadTimes

    times = ThreadTimes()
    started, done, release = threading.Event(), threading.Event(), threading.Event()

    def busy() -> None:
        started.wait(5)
        begin = time.thread_time()
        while time.thread_time() - begin < 0.05:  # 50 ms of CPU, however long the machine makes it take
            pass
        done.set()
        release.wait(10)  # alive until measured

    worker = threading.Thread(target=busy, name="rigscope-busy-3")
    worker.start()
    times.shares(1.0)  # primes every thread, the worker included
    started.set()
    assert done.wait(10)
    shares = times.shares(1.0)  # as if over one second: % of a core is CPU seconds x 100
    release.set()
    worker.join()
    assert shares["busy"] >= 5.0
    assert shares["busy"] > shares["main"]


def open_schedstats(threads: list[Any]) -> int:
    """This process's descriptors open on those threads' schedstat files (other tests' threads in the same
    worker may open and close files meanwhile: only these count)."""
    wanted = {f"/task/{thread.native_id}/schedstat" for thread in threads}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed since the listing
        count += any(target.endswith(name) for name in wanted)
    return count


def test_the_files_of_threads_that_ended_are_closed():
    import threading

    from collectors.self_usage import ThreadTimes

    main = [threading.main_thread()]
    main_before = open_schedstats(main)  # other tests' collectors may hold the main thread's too
    times = ThreadTimes()
    release = threading.Event()
    workers = [threading.Thread(target=release.wait, args=(10,), name=f"rigscope-worker-{i}") for i in range(20)]
    for worker in workers:
        worker.start()
    assert "worker" in times.shares(1.0)
    assert open_schedstats(workers) == 20  # each thread's file stays open while it lives
    release.set()
    for worker in workers:
        worker.join()
    assert "worker" not in times.shares(1.0)
    assert open_schedstats(workers) == 0
    times.close()
    assert open_schedstats(main) == main_before


def test_a_thread_that_takes_over_an_ended_threads_id_gets_a_file_of_its_own(monkeypatch):
    """A file of an ended thread still reads (its last figures): the next thread with its id must not read it."""
    import threading

    from collectors.self_usage import ThreadTimes

    live = threading.main_thread().native_id

    class SameId(threading.Thread):
        native_id = live  # both stand for threads the kernel gave the same id, one after the other

    first, second = SameId(name="rigscope-first"), SameId(name="rigscope-second")
    opened: list[procfs.ProcFile] = []

    class Recorded(procfs.ProcFile):
        def __init__(self, path: str) -> None:
            super().__init__(path)
            opened.append(self)

    monkeypatch.setattr(procfs, "ProcFile", Recorded)
    times = ThreadTimes()
    monkeypatch.setattr(threading, "enumerate", lambda: [first])
    assert set(times.shares(1.0)) == {"first"}
    monkeypatch.setattr(threading, "enumerate", lambda: [second])
    assert set(times.shares(1.0)) == {"second"}
    assert len(opened) == 2
    with pytest.raises(OSError):
        opened[0].read()  # closed
    opened[1].read()
    times.close()


CPUINFO = (b"processor\t: 0\nmodel name\t: Some CPU @ 2.60GHz (cpu MHz inside)\ncpu MHz\t\t: 2596.121\n"
           b"flags\t\t: fpu vme\n\nprocessor\t: 1\nCPU MHz: 3000\n\nprocessor\t: 2\ncpu mhz   :  1.5e3 \n"
           b"\nprocessor\t: 3\ncpu MHz (dynamic) : 799.999\ncache size\t: 512 KB\n")


@pytest.mark.parametrize("text", [CPUINFO, b"processor\t: 0\ncpu MHz\t\t: 2596.12\n", None])
def test_cpu_frequency_is_psutils_from_the_same_cpuinfo(tmp_path, monkeypatch, text):
    from collectors.cpu import CpuFreq

    (tmp_path / "cpuinfo").write_bytes(text if text is not None else open("/proc/cpuinfo", "rb").read())  # None: ours
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(tmp_path))
    freq = CpuFreq(str(tmp_path / "cpuinfo"))
    expected = psutil.cpu_freq()
    assert freq.current() == (expected.current if expected else None)
    freq.close()


def test_cpu_frequency_without_cpu_mhz_lines_is_psutils(tmp_path, monkeypatch):
    from collectors.cpu import CpuFreq

    (tmp_path / "cpuinfo").write_bytes(b"processor\t: 0\nBogoMIPS\t: 50.00\n")  # an ARM machine's
    reading = psutil.cpu_freq()
    monkeypatch.setattr(psutil, "cpu_freq", lambda: reading)
    freq = CpuFreq(str(tmp_path / "cpuinfo"))
    assert freq.current() == reading.current
    freq.close()
