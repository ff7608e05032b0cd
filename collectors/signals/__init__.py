"""Derived signals of SIGNALS.md, computed by streaming objects (pure Python, no data library).

`SignalPipeline` is the one entry point, live (`process` per frame) and offline
(`process_columns` per session).
"""

from collectors.signals.device import ALERT_NAMES, DeviceSignals
from collectors.signals.pipeline import SignalPipeline
from collectors.signals.throttle import ThrottleAccount
from collectors.signals.workload import WorkloadTracker, raw_class

__all__ = ["ALERT_NAMES", "DeviceSignals", "SignalPipeline", "ThrottleAccount", "WorkloadTracker", "raw_class"]
