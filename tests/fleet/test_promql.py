"""The grouped queries: valid PromQL (promtool), one term per adapter entry, and the idle test judged on GPUs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from collectors.fleet import promql
from collectors.fleet.exporters import EXPORTERS


def queries() -> list[str]:
    return [promql.up_query(None), promql.up_query("dcgm|node"), promql.gauges_query(), promql.window_query(600),
            promql.history_query(re.escape('gp"u\\7.x-{a}') + "(:[0-9]+)?", 15)]  # a hostile node name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_every_query_parses(tmp_path):
    rules = [{"record": f"fleet:query_{i}", "expr": expr} for i, expr in enumerate(queries())]
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "fleet", "rules": rules}]}))  # JSON is YAML
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_entry_has_its_term():
    text = promql.gauges_query() + promql.window_query(600)
    for exporter in EXPORTERS:
        for entry in exporter.entries:
            assert entry.metric in text, entry


def test_idle_window_is_covered_only_by_gpu_samples():
    window = promql.window_query(600)
    covered = [t for t in window.split(" or ") if '"covered"' in t]
    assert covered and all("node_" not in t for t in covered)  # node_exporter's history says nothing of GPUs
