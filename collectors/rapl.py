"""CPU package power from the RAPL energy counters in sysfs (Intel, and AMD through the same powercap interface).

Power is the energy delta between ticks divided by the elapsed time; a counter
that wrapped adds `max_energy_range_uj`.  Where RAPL is absent or unreadable
(often: `energy_uj` is root-only), the values are null and the reason is told once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.base import Collector, Reading

POWERCAP_ROOT = Path("/sys/class/powercap")


@dataclass
class _Domain:
    energy_path: Path
    max_range_uj: int
    last_uj: int | None = None


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _long_term_limit_w(domain_dir: Path) -> float | None:
    for name_file in sorted(domain_dir.glob("constraint_*_name")):
        try:
            if name_file.read_text().strip() != "long_term":
                continue
            limit_file = domain_dir / name_file.name.replace("_name", "_power_limit_uw")
            return _read_int(limit_file) / 1e6 or None
        except (OSError, ValueError):
            return None
    return None


class RaplCollector(Collector):
    name = "rapl"

    def __init__(self, root: Path = POWERCAP_ROOT) -> None:
        super().__init__()
        self._domains: list[_Domain] = []
        self._limit_w: float | None = None
        self._last_t: float | None = None
        self._discover(root)

    def _discover(self, root: Path) -> None:
        package_dirs = [d for d in sorted(root.glob("*rapl:*"))
                        if d.name.count(":") == 1 and _is_package(d)]
        if not package_dirs:
            self.notice(f"no RAPL package domain under {root}; cpu_power_w is null")
            return
        limits: list[float] = []
        for directory in package_dirs:
            try:
                domain = _Domain(directory / "energy_uj", _read_int(directory / "max_energy_range_uj"))
                domain.last_uj = _read_int(domain.energy_path)
            except PermissionError:
                self.notice("RAPL energy counters need root (energy_uj is not readable); cpu_power_w is null")
                self._domains = []
                return
            except (OSError, ValueError) as error:
                self.notice(f"RAPL unreadable ({error}); cpu_power_w is null")
                self._domains = []
                return
            self._domains.append(domain)
            limit = _long_term_limit_w(directory)
            if limit:
                limits.append(limit)
        self._limit_w = sum(limits) if len(limits) == len(package_dirs) else None

    @property
    def available(self) -> bool:
        return bool(self._domains)

    def info(self) -> dict[str, Any]:
        return {"rapl_domains": len(self._domains), "power_limit_w": self._limit_w}

    def read(self, elapsed_s: float) -> Reading:
        power = None
        if self._domains:
            try:
                power = self._power(elapsed_s)
            except (OSError, ValueError) as error:
                self.notice(f"RAPL read failed ({error}); cpu_power_w is null from now on")
                self._domains = []
        return {"cpu_power_w": power, "cpu_power_limit_w": self._limit_w}

    def _power(self, elapsed_s: float) -> float | None:
        joules = 0.0
        for domain in self._domains:
            now_uj = _read_int(domain.energy_path)
            delta = now_uj - domain.last_uj if domain.last_uj is not None else 0
            if delta < 0:
                delta += domain.max_range_uj
            domain.last_uj = now_uj
            joules += delta / 1e6
        last_t, self._last_t = self._last_t, elapsed_s
        if last_t is None or elapsed_s <= last_t:
            return None
        return joules / (elapsed_s - last_t)


def _is_package(directory: Path) -> bool:
    try:
        return (directory / "name").read_text().strip().startswith("package")
    except OSError:
        return False
