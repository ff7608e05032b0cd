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


def _evaluate(tmp_path, series: dict[str, str], expr: str, expected: dict[str, float]) -> None:
    """promtool evaluates `expr` at 20 m over `series` (one sample a minute) and must give `expected`."""
    test = {"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "promql_expr_test": [{"expr": expr, "eval_time": "20m",
                                  "exp_samples": [{"labels": k, "value": v} for k, v in expected.items()]}]}
    path = tmp_path / "test.yml"
    path.write_text(json.dumps({"evaluation_interval": "1m", "tests": [test]}))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-600:] + done.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_an_exporter_scraped_by_two_jobs_counts_its_energy_once(tmp_path):
    energy = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{instance="gpu01:9400",job="{}",gpu="0",UUID="GPU-1"}}'
    collapses = 'rigscope_collapse_events_total{{instance="gpu01:9100",job="{}",device="gpu{}"}}'
    series = {energy.format(job): "0+60000x20" for job in ("dcgm", "dcgm-copy")}  # 60 J a minute
    series |= {collapses.format(job, gpu): "0+1x20" for job in ("rigscope", "rigscope-copy") for gpu in (0, 1)}
    _evaluate(tmp_path, series, promql.window_query(600),
              {'{instance="gpu01:9400",gpu="0",field="energy",exporter="dcgm"}': 600,  # 1200 before
               '{instance="gpu01:9100",field="collapses",exporter="rigscope"}': 20})  # two GPUs' 10; 40 before


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_a_job_regex_with_a_backslash_or_a_quote_is_matched_as_written(tmp_path):
    series = {'up{instance="a:1",job="gpu.a"}': "1x20", 'up{instance="b:1",job="gpuXa"}': "1x20",
              'up{instance="c:1",job="say\\"hi"}': "1x20"}
    _evaluate(tmp_path, series, promql.up_query(r"gpu\.a|say\"hi"), {'{instance="a:1"}': 1, '{instance="c:1"}': 1})


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_the_samples_of_the_window_give_the_scrape_interval(tmp_path):
    series = {'DCGM_FI_DEV_GPU_UTIL{instance="g:9400",job="dcgm",gpu="0"}': "50x20"}  # a sample a minute
    _evaluate(tmp_path, series, promql.window_query(600),
              {'{instance="g:9400",field="samples",exporter="dcgm"}': 11,  # 10 to 20 min, both ends (2.x)
               '{instance="g:9400",field="covered",exporter="dcgm"}': 900,
               '{instance="g:9400",gpu="0",field="active_util",exporter="dcgm"}': 0.5})


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_an_ipv6_node_s_history_is_found(tmp_path):
    series = {'DCGM_FI_DEV_GPU_UTIL{instance="[fd00::7]:9400",gpu="0"}': "50x20",
              'DCGM_FI_DEV_GPU_UTIL{instance="[fd00::77]:9400",gpu="0"}': "90x20"}  # another node
    _evaluate(tmp_path, series, promql.history_query(promql.instances_regex("fd00::7"), 60),
              {'{gpu="0",field="util",exporter="dcgm"}': 0.5})  # no answer before: the regex wanted no brackets


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
@pytest.mark.parametrize("range_s, value", [(10, None), (30, 0.5)])
def test_a_history_range_shorter_than_the_scrape_interval_misses_samples(tmp_path, range_s, value):
    series = {'DCGM_FI_DEV_GPU_UTIL{instance="g:9400",gpu="0"}': "50x100"}
    test = {"interval": "15s", "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "promql_expr_test": [{"expr": promql.history_query(promql.instances_regex("g"), range_s), "eval_time": "20m14s",
                                  "exp_samples": [] if value is None else
                                  [{"labels": '{gpu="0",field="util",exporter="dcgm"}', "value": value}]}]}
    path = tmp_path / "test.yml"
    path.write_text(json.dumps({"evaluation_interval": "15s", "tests": [test]}))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-600:] + done.stderr
