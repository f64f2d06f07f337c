"""The systemd units' command lines, run as systemd would: each unit's ExecStartPre/ExecStart
with its Environment and the settings of .env.example (what /etc/pinewire/env is copied from),
pointed at this run's broker, a temporary data directory and free ports. Together they trade
an alert to its fill; each stops on the unit's KillSignal well within its TimeoutStopSec."""
import os
import shlex
import signal
import socket
import subprocess
import sys

from connectors import credentials
from pinewire import processes
from tests.integration.harness import Pipeline, wait_until
from tests.unit.test_deploy import PINEWIRE, ROOT, unit

# pinewire-kafka.service starts a broker of its own on fixed ports: test_kafka_cluster.py runs
# `pinewire kafka up`, and test_deploy.py parses its line
PARTS = ["pinewire-web.service", "pinewire-worker@.service", "pinewire-ledger.service",
         "pinewire-feed.service"]


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _unit_environment(service) -> dict[str, str]:
    """Environment= lines, with systemd's %H (host) and %i (instance: 1) expanded."""
    pairs = shlex.split(service.get("Environment", ""))
    return dict(p.replace("%H", socket.gethostname()).replace("%i", "1").split("=", 1)
                for p in pairs)


def _argv(line: str) -> list[str]:
    argv = shlex.split(line)
    assert argv[0] == PINEWIRE
    return [sys.executable, "-m", "pinewire.cli", *argv[1:]]


def test_the_units_run_together_and_stop_on_their_signal(kafka_url, tmp_path):
    p = Pipeline(tmp_path, kafka_url)
    here = {"PINEWIRE_KAFKA_URL": kafka_url, "PINEWIRE_DATA_DIR": str(tmp_path),
            "PINEWIRE_DATABASE_URL": "", "PINEWIRE_WEB_HOST": "127.0.0.1",
            "PINEWIRE_WEB_PORT": p.env["PINEWIRE_WEB_PORT"],
            "PINEWIRE_PUBLIC_URL": p.settings.base_url,
            "PINEWIRE_NAMESPACE": p.settings.namespace,
            "PINEWIRE_SECRET_KEY": credentials.new_key(), "PINEWIRE_SESSION_SECRET": "s" * 32,
            "PINEWIRE_FEED_WATCHLIST": "RELIANCE"}
    running: list[tuple[str, subprocess.Popen, float]] = []
    try:
        for name in PARTS:
            service = unit(ROOT / "deploy" / "systemd" / name)["Service"]
            env = {**os.environ, **_env_example(), **_unit_environment(service), **here}
            env = {k: v for k, v in env.items() if v != ""}
            if "ExecStartPre" in service:
                done = subprocess.run(_argv(service["ExecStartPre"]), env=env, timeout=120,
                                      capture_output=True, text=True)
                assert done.returncode == 0, f"{name} ExecStartPre: {done.stderr}"
            proc = processes.spawn(_argv(service["ExecStart"]),
                                   tmp_path / "logs" / f"{name}.log", env=env)
            stop_s = float(service["TimeoutStopSec"])
            running.append((name, proc, stop_s))
            if name == "pinewire-web.service":
                wait_until(p.healthy, 60, "the web unit's /healthz")
            if name.startswith("pinewire-worker@"):
                worker_name = env["PINEWIRE_WORKER_NAME"]
                wait_until(lambda: any(
                    w["worker_id"] == worker_name and w["alive"] and w["active_partitions"]
                    for w in p.http.get("/status.json").json()["workers"]), 90,
                    f"worker {worker_name} to own its partitions")

        link = p.add_link(sl_pct="1", target_pct="2")
        pid = p.alert_row(p.alert(link, "BUY", "RELIANCE"))["position_id"]
        filled = p.position(pid, "OPEN", timeout_s=30)      # filled at a tick of the feed unit
        assert filled["entry_qty"] == 10 and filled["entry_value_paise"] > 0
    finally:
        stopped = []
        for name, proc, stop_s in reversed(running):
            code = processes.stop(proc, grace_s=stop_s)
            stopped.append((name, code))
        p.http.close()
    # SIGTERM (the units' KillSignal) ends each within its TimeoutStopSec: never a SIGKILL
    assert [(name, code) for name, code in stopped if code == -signal.SIGKILL] == []
