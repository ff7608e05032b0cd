"""The Grafana dashboard and docs/prometheus.md use only metric names the exporter serves, in valid PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from rigscope.serve.prometheus import metric_names
from tests.conftest import REPO

DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
GUIDE = REPO / "docs" / "prometheus.md"
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        found += [target["expr"] for target in panel.get("targets", [])]
    return found


def served(name: str) -> bool:
    names = set(metric_names())
    return name in names or any(name.endswith(s) and name.removesuffix(s) in names for s in HISTOGRAM_SERIES)


def test_dashboard_and_guide_name_only_served_metrics():
    used = {name for expr in expressions() for name in re.findall(r"\brigscope_[a-z0-9_]+", expr)}
    used |= set(re.findall(r"\brigscope_[a-z0-9_]+", GUIDE.read_text(encoding="utf-8")))
    assert used and not {name for name in used if not served(name)}
    assert {"rigscope_gpu_utilization_ratio", "rigscope_collapse_events_total"} <= used


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_dashboard_queries_parse(tmp_path):
    rules = []
    for i, expr in enumerate(expressions()):
        concrete = expr.replace("$__range", "1h").replace("$host", ".*").replace("$gpu", ".*")
        rules.append({"record": f"rigscope:dashboard_{i}", "expr": concrete})
    path = tmp_path / "rules.json"  # YAML is a superset of JSON
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
