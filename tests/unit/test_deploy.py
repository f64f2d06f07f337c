"""The deploy files say only what pinewire understands: every PINEWIRE_* variable named in them
is a setting, every pinewire command line parses, and the pieces the README's "Production"
section promises are there. (tests/integration/test_deploy_units.py runs the units.)"""
import configparser
import re
import shlex
from pathlib import Path

import pytest
import yaml

from pinewire import cli
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
FILES = [ROOT / "docker-compose.yml", ROOT / ".env.example", ROOT / "deploy" / "Dockerfile",
         ROOT / "deploy" / "nginx" / "pinewire.conf", *UNITS]
PINEWIRE = "/opt/pinewire/.venv/bin/pinewire"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str          # systemd's keys are case-sensitive
    parser.read(path)
    return parser


def commands() -> list[tuple[str, list[str]]]:
    """(where, argv after `pinewire`) of every pinewire command line in the deploy files."""
    found = []
    for path in UNITS:
        for key in ("ExecStartPre", "ExecStart"):
            line = unit(path)["Service"].get(key)
            if line:
                argv = shlex.split(line)
                assert argv[0] == PINEWIRE, f"{path.name} {key} runs {argv[0]}"
                found.append((f"{path.name} {key}", argv[1:]))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or "build" not in service:   # not a pinewire image
            continue
        lines = command[2].split("&&") if command[:2] == ["sh", "-c"] else [shlex.join(command)]
        found += [(f"compose {name}", shlex.split(line)[1:]) for line in lines]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1)
    found.append(("Dockerfile CMD", yaml.safe_load(cmd)[1:]))
    return found


def test_every_variable_named_is_a_setting():
    known = set(Settings.model_fields)
    named = {(path.name, var) for path in FILES
             for var in re.findall(r"\bPINEWIRE_([A-Z0-9_]+)", path.read_text())}
    assert len(named) > 10
    assert sorted(f"{where}: PINEWIRE_{var}" for where, var in named
                  if var.lower() not in known) == []


def test_env_example_assigns_only_settings_and_parses():
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert all(name.startswith("PINEWIRE_") for name, _ in pairs)
    values = {name[len("PINEWIRE_"):].lower(): value for name, value in pairs if value}
    Settings(**values)                # every value the file gives is valid for its setting


@pytest.mark.parametrize("where,argv", commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_line_parses(where, argv):
    assert argv and argv[0] in cli.parser()._subparsers._group_actions[0].choices, where
    cli.parser().parse_args(argv)     # SystemExit (a usage error) fails the test


def test_the_units_the_readme_names():
    names = {p.name for p in UNITS}
    assert {"pinewire-web.service", "pinewire-worker@.service", "pinewire-feed.service",
            "pinewire-ledger.service", "pinewire-kafka.service"} <= names
    worker = unit(ROOT / "deploy" / "systemd" / "pinewire-worker@.service")["Service"]
    assert "PINEWIRE_WORKER_NAME=%H-%i" in worker["Environment"]
    for path in UNITS:
        service = unit(path)["Service"]
        assert service["EnvironmentFile"] == "/etc/pinewire/env", path.name
        assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "on-failure"


def test_compose_is_healthchecked_scalable_and_reads_one_env_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert compose["kafka"]["image"].startswith("apache/kafka:4.")
    assert compose["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert {"kafka", "postgres", "web", "worker", "ledger", "feed"} <= set(compose)
    assert compose["worker"]["deploy"]["replicas"] >= 2
    for name in ("kafka", "postgres", "web"):
        assert compose[name]["healthcheck"]["test"], name
    for name in ("web", "worker", "ledger", "feed"):
        env_files = [e["path"] for e in compose[name]["env_file"]]
        assert env_files[0] == ".env.example", name
        waits = compose[name]["depends_on"]
        assert all(w["condition"] == "service_healthy" for w in waits.values()), name


def test_nginx_site_terminates_tls_and_limits_the_webhook():
    site = (ROOT / "deploy" / "nginx" / "pinewire.conf").read_text()
    assert "listen 443 ssl;" in site and "ssl_certificate " in site
    assert re.search(r"limit_req_zone \$binary_remote_addr zone=pinewire_hooks:", site)
    hooks = re.findall(r"location /hook/ \{(.*?)\n    \}", site, re.S)
    assert len(hooks) == 2 and all("limit_req zone=pinewire_hooks" in h for h in hooks)
    assert all("proxy_read_timeout 3s" in h for h in hooks)       # TradingView's limit
    assert "ssl_verify_client optional" in site                   # the mTLS option, documented
    port = re.search(r"server 127\.0\.0\.1:(\d+);", site).group(1)
    assert int(port) == Settings.model_fields["web_port"].default
