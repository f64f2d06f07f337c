"""/metrics from the web app and from a worker, in Prometheus format, with true figures."""
import re

import httpx

from tests.integration.harness import wait_until


def _value(text: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))   # as exposed
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else \
        rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


def test_the_web_app_counts_alerts_by_outcome_and_reports_lag_and_positions(pipeline):
    before = pipeline.http.get("/metrics").text
    link = pipeline.add_link()
    pipeline.alert(link, "BUY", "SBIN", price="800")
    assert pipeline.post(link, b"not json").status_code == 422
    after = wait_until(lambda: (t := pipeline.http.get("/metrics").text) and
                       _value(t, "pinewire_workers_open_positions") and t, 20,
                       "the open position in the heartbeats")
    for outcome, added in (("accepted", 1), ("invalid", 1)):
        was = _value(before, "pinewire_alerts_total", outcome=outcome) or 0
        assert _value(after, "pinewire_alerts_total", outcome=outcome) == was + added
    assert _value(after, "pinewire_webhook_ack_seconds_count") >= 2
    assert _value(after, "pinewire_kafka_reachable") == 1
    alerts = f"{pipeline.settings.namespace}.alerts"
    assert _value(after, "pinewire_topic_records", topic=alerts) >= 1
    for group in ("workers", "ledger"):
        assert _value(after, "pinewire_consumer_lag_records", topic=alerts,
                      group=group) is not None


def test_a_worker_serves_its_own_figures(pipeline):
    log = (pipeline.data_dir / "logs" / "worker.log")
    url = wait_until(lambda: re.search(r"metrics on (http://\S+)", log.read_text()), 20,
                     "the worker's metrics address").group(1)
    pipeline.ticks("RELIANCE", ["1400", "1401"])
    text = wait_until(lambda: (t := httpx.get(url).text) and
                      (_value(t, "pinewire_ticks_total") or 0) >= 2 and t, 20,
                      "the ticks counted")
    assert _value(text, "pinewire_open_positions") is not None
    before = _value(text, "pinewire_alert_to_fill_seconds_count") or 0
    link = pipeline.add_link()
    pipeline.alert(link, "BUY", "RELIANCE")   # fills at the last tick, 1401
    text = wait_until(lambda: (t := httpx.get(url).text) and
                      _value(t, "pinewire_alert_to_fill_seconds_count") == before + 1 and t, 20,
                      "the entry's alert → fill observed")
    assert 0 < _value(text, "pinewire_alert_to_fill_seconds_sum") < 20
