"""The provisioned Grafana dashboard and the compose Prometheus read what pinewire exports: every
metric a panel's query names is one that the web app's or a worker's /metrics serves (with the
labels the query groups by), and Prometheus scrapes the services that serve them."""
import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import agents.metrics  # noqa: F401 - registers the worker's metrics
import webapp.metrics  # noqa: F401 - registers the web app's metrics
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "pinewire.json"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported() -> dict[str, set[str]]:
    """Each series name /metrics can serve -> the labels it carries."""
    names = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("pinewire_"):
            continue
        collector = REGISTRY._names_to_collectors[family.name + SUFFIXES[family.type][0]]
        labels = set(getattr(collector, "_labelnames", ()))
        for suffix in SUFFIXES[family.type]:
            names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_every_query_names_an_exported_metric_and_its_labels():
    served, found = exported(), set()
    assert queries()
    for expr in queries():
        names = re.findall(r"\bpinewire_[a-z_]+", expr)
        assert names, expr
        for name in names:
            assert name in served, f"{name} in {expr!r} is not exported"
            found.add(name)
            for group in re.findall(r"by \(([^)]*)\)", expr):
                labels = {label.strip() for label in group.split(",")}
                assert labels <= served[name], f"{expr!r} groups by labels {name} lacks"
    # the figures operators asked for are on it
    for wanted in ("pinewire_tick_to_exit_decision_seconds_bucket",
                   "pinewire_alert_to_fill_seconds_bucket", "pinewire_webhook_ack_seconds_bucket",
                   "pinewire_consumer_lag_records", "pinewire_dead_letter_records"):
        assert wanted in found, wanted


def test_compose_provisions_prometheus_and_grafana_on_the_pinewire_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("prometheus", "grafana"):
        for volume in compose[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}"
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "compose.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["pinewire-web"]["static_configs"][0]["targets"] == ["web:8000"]
    worker_sd = jobs["pinewire-worker"]["dns_sd_configs"][0]
    assert worker_sd["names"] == ["worker"] and "worker" in compose
    assert worker_sd["port"] == Settings().metrics_port
    assert compose["worker"]["environment"]["PINEWIRE_METRICS_HOST"] == "0.0.0.0"
    datasource = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "datasources" /
                                 "prometheus.yml").read_text())["datasources"][0]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert all(t["datasource"]["uid"] == datasource["uid"] for p in panels for t in p["targets"])
