"""Values the user states (`--rated-cpu-w`, `--cpu-temp-limit`, `--gpu-temp-limit`); they win over what is read."""

from __future__ import annotations

from collectors.base import Collector, Reading


class FixedValues(Collector):
    """Runs after the real collectors and sets the same columns every tick."""

    name = "overrides"

    def __init__(self, values: Reading) -> None:
        super().__init__()
        self._values = dict(values)

    def read(self, elapsed_s: float) -> Reading:
        return self._values
