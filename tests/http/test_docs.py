"""The Grafana dashboard and docs/prometheus.md use only metric and label names that a real scrape serves,
in valid PromQL, and the guide's table names every served family with its type and labels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rigscope.serve.prometheus import metric_names
from tests.conftest import REPO
from tests.http.conftest import page_with_a_span

DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
GUIDE = REPO / "docs" / "prometheus.md"
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
PROMETHEUS_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
METRIC = re.compile(r"\brigscope_[a-z0-9_]+")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, Any]:
    """{sample name: label names} of a real scrape of the simulated box after a span ended, and the families."""
    page = page_with_a_span(tmp_path_factory.mktemp("sessions"))
    families = {family.name: family for family in text_string_to_metric_families(page)}
    series: dict[str, set[str]] = {}
    for family in families.values():
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return {"series": series, "families": families}


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard (panel targets and variable queries) and of the guide."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found += [target["expr"] for target in inner.get("targets", [])]
    found += [variable["definition"] for variable in dashboard["templating"]["list"] if variable.get("definition")]
    guide = GUIDE.read_text(encoding="utf-8")
    for block in re.findall(r"```promql\n(.*?)```", guide, re.S):
        found += [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    found += re.findall(r"^\s*expr: (.+)$", guide, re.M)
    return found


def legend_labels() -> set[str]:
    """Labels that the dashboard's legends and the guide's alert annotations print."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    legends = [target.get("legendFormat", "") for panel in dashboard["panels"] for target in panel.get("targets", [])]
    found = {name for legend in legends for name in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend)}
    return found | set(re.findall(r"\$labels\.(\w+)", GUIDE.read_text(encoding="utf-8")))


def labels_in(expr: str) -> set[str]:
    """Label names an expression matches on, groups by, or reads with label_values."""
    names = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        names |= {name.strip() for name in group.split(",") if name.strip()}
    for matchers in re.findall(r"\{([^{}]*)\}", expr):
        names |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
    names |= set(re.findall(r"label_values\([^,]+,\s*(\w+)\)", expr))
    return names


def test_every_query_names_served_metrics_and_labels(served):
    series = served["series"]
    queries = expressions()
    assert len(queries) > 30 and any("histogram_quantile" in q for q in queries)
    for expr in queries:
        metrics = set(METRIC.findall(expr))
        unknown = metrics - set(series)
        assert not unknown, f"{expr}: {sorted(unknown)} not served"
        available = set().union(*(series[m] for m in metrics)) | PROMETHEUS_LABELS if metrics else PROMETHEUS_LABELS
        assert labels_in(expr) <= available, f"{expr}: {sorted(labels_in(expr) - available)} not on its series"
    everything = set().union(*series.values()) | PROMETHEUS_LABELS
    assert legend_labels() and legend_labels() <= everything


def test_the_guide_names_every_served_family_with_its_type_and_labels(served):
    families, series = served["families"], served["series"]
    guide = GUIDE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ((?:`rigscope_[a-z0-9_]+`(?:, )?)+) \| ([a-z]+)[^|]*\|([^|]*)\|", guide, re.M)
    documented: dict[str, tuple[str, set[str]]] = {}
    for names, kind, labels in rows:
        for name in METRIC.findall(names):
            documented[name] = (kind, set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", labels))))  # not examples
    served_names = {family.name + ("_total" if family.type == "counter" else "") for family in families.values()}
    assert set(documented) == served_names == set(metric_names())
    for family in families.values():
        name = family.name + ("_total" if family.type == "counter" else "")
        kind, labels = documented[name]
        assert kind == family.type, name
        on_series = set().union(*(series.get(s.name, set()) for s in family.samples))
        assert labels <= on_series, f"{name}: the guide lists {sorted(labels - on_series)}"


def test_dashboard_and_guide_name_only_families_metric_names_lists():
    names = set(metric_names())
    used = {name for expr in expressions() for name in METRIC.findall(expr)}
    assert used and all(n in names or any(n.endswith(s) and n.removesuffix(s) in names for s in HISTOGRAM_SERIES)
                        for n in used)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_dashboard_queries_parse(tmp_path):
    rules = []
    for i, expr in enumerate(e for e in expressions() if not e.startswith("label_values(")):
        concrete = expr.replace("$__range", "1h")
        for variable in ("$job", "$host", "$gpu"):
            concrete = concrete.replace(variable, ".*")
        rules.append({"record": f"rigscope:dashboard_{i}", "expr": concrete})
    path = tmp_path / "rules.json"  # YAML is a superset of JSON
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# The exporters that run beside rigscope on the nodes a fleet watches (docs/fleet.md), on their default ports.
EXPORTER_PORTS = {9100: "node_exporter", 9400: "dcgm-exporter"}


def test_the_examples_serve_on_a_port_the_other_exporters_of_a_node_leave_free():
    """Copying `--http 0.0.0.0:9100` onto a node that runs node_exporter ends in 'address already in use'."""
    for doc in (GUIDE, REPO / "docs" / "probe.md"):
        text = doc.read_text(encoding="utf-8")
        ports = {int(port) for port in re.findall(r"--http \[?[\w.:]*?\]?:?(\d+)\b", text)}
        ports |= {int(port) for port in re.findall(r"\b(?:localhost|127\.0\.0\.1|gpubox[\w-]*):(\d+)", text)}
        assert ports, doc
        assert not ports & set(EXPORTER_PORTS), f"{doc.name}: {sorted(ports & set(EXPORTER_PORTS))}"


def test_the_dashboard_names_no_job():
    """The scrape job is named in the operator's Prometheus config, not by rigscope: a fixed `job="rigscope"`
    showed no target at all under any other name. The `job` variable takes it from the scraped series."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert not [expr for expr in expressions() if re.search(r"\bjob\s*=\s*\"", expr)]
    (job,) = [v for v in dashboard["templating"]["list"] if v["name"] == "job"]
    assert job["definition"] == "label_values(rigscope_info, job)"
    assert "allValue" not in job  # All is the jobs listed, not `.*`: up{job=~".*"} is every target of the server
    assert any('job=~"$job"' in expr for expr in expressions())
