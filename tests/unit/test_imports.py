"""Importing a module does nothing but define things: every module of every package, imported in
a fresh interpreter in an empty folder, creates no file or folder (no lock, no database, no data
directory) and patches nothing in Faust; the worker does those when it starts. (Alembic runs the
migration scripts; the simulators are tools, not the product.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["schemas", "connectors", "agents", "webapp", "pinewire"]

PROBE = """
import importlib, json, pkgutil, sys
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
before = (faust_aiokafka.Consumer.getmany, faust.App.on_rebalance_end)
names = []
for package in sys.argv[1:]:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if ".simulator" in info.name or ".migrations" in info.name or \
                info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
after = (faust_aiokafka.Consumer.getmany, faust.App.on_rebalance_end)
print(json.dumps({"modules": names, "patched": before != after}))
"""


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_every_module_creates_no_file_and_patches_nothing(package, tmp_path):
    """One interpreter per package: the worker's and the web app's metrics are never in one
    process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINEWIRE_")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", PROBE, package], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["modules"]) > 3
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == []
    assert not result["patched"], "Faust is patched by the worker at its start, not on import"
