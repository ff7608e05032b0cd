"""The cyclic GC's freeze is held by the monitor and the app together: the first to stop does not thaw the other's."""

from __future__ import annotations

import gc

from collectors import gc_freeze


def test_the_last_holder_thaws():
    assert gc.get_freeze_count() == 0
    gc_freeze.hold()  # the monitor starts
    gc_freeze.hold()  # the dashboard app mounts
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc_freeze.release()  # the monitor stops while the app still runs
    # Still frozen: thawing would leave 0. (Not `== frozen`: a frozen object that another thread of the test
    # process frees meanwhile leaves the count.)
    assert gc.get_freeze_count() > frozen // 2
    gc_freeze.release()
    assert gc.get_freeze_count() == 0
    gc_freeze.release()  # one too many: nothing to thaw, no error
    assert gc.get_freeze_count() == 0
