"""A decorated coroutine whose coroutine-ness another decorator hides (`torch.inference_mode()`,
`functools.lru_cache` and the like return a plain function that returns the coroutine): its span lasts
until the coroutine is done, as for an `async def`, not the microsecond it took to make it."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

import rigscope


def plain_wrapper(func: Any) -> Any:
    """A decorator as torch's `inference_mode()` is one: a sync function around the call."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return call


@rigscope.span("infer")
@plain_wrapper
async def infer(x: int) -> int:
    with rigscope.span("forward"):
        await asyncio.sleep(0.05)
    if x < 0:
        raise ValueError("negative")
    return x * 2


def test_a_coroutine_behind_a_plain_decorator_is_timed_until_it_is_done(listener):
    assert asyncio.run(infer(4)) == 8
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(infer(-1))
    ends = [e for e in listener.collect(8) if e["kind"] == "span_end"]
    outer = [e for e in ends if e["name"] == "infer"]
    inner = [e for e in ends if e["name"] == "forward"]
    assert len(outer) == 2 and all(e["duration_s"] >= 0.04 for e in outer)  # it slept 0.05 s inside
    assert [e["success"] for e in outer] == [True, False] and outer[1]["error"] == "ValueError: negative"
    assert [e["parent_id"] for e in inner] == [e["span_id"] for e in outer]
