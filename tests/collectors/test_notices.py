"""A session's notices come from several threads at once (sampler, receiver, span and process threads)."""

from __future__ import annotations

import threading

from collectors.notices import NoticeSink


def test_notices_from_many_threads_are_all_kept_and_each_handed_on_once():
    heard: list[str] = []
    sink = NoticeSink(heard.append)
    start = threading.Barrier(8)

    def tell(thread: int) -> None:
        start.wait()
        for k in range(500):
            sink.tell(f"{thread}:{k}")

    threads = [threading.Thread(target=tell, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = sink.messages()
    assert len(kept) == 4000 and sorted(kept) == sorted(heard) == sorted(f"{t}:{k}" for t in range(8) for k in range(500))
    for thread in range(8):  # each thread's notices in the order it told them
        assert [m for m in kept if m.startswith(f"{thread}:")] == [f"{thread}:{k}" for k in range(500)]


def test_a_listener_added_later_hears_what_comes_after_and_may_read_the_sink():
    sink = NoticeSink()
    sink.tell("before the session folder")
    read_back: list[list[str]] = []
    sink.listen(lambda message: read_back.append(sink.messages()))  # called outside the lock: no deadlock
    sink.tell("a GPU was lost")
    assert read_back == [["before the session folder", "a GPU was lost"]]
    assert list(sink) == ["before the session folder", "a GPU was lost"]
