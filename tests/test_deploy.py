"""deploy/: the container file, the Kubernetes manifests and the systemd unit, checked as
far as a machine without a container engine or systemd allows."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import tomllib

import pytest
import yaml
from conftest import ROOT

from handoutkit.commands.serve import serve

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy"


def serve_args(argv: list[str]) -> dict:
    """`handouts serve ARGS` parsed by the real command (raises on an unknown option)."""
    assert argv[0].split("/")[-1] == "handouts" and argv[1] == "serve", argv
    return serve.make_context("serve", list(argv[2:])).params


def containerfile() -> list[tuple[str, str]]:
    """(instruction, argument) with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Containerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_containerfile_commands():
    steps = containerfile()
    kinds = [kind for kind, _ in steps]
    assert kinds[0] == "FROM" and "bookworm" in steps[0][1]  # the Debian of .ci/run
    runs = [arg for kind, arg in steps if kind == "RUN"]
    # The apt packages exist and are the ones README's set-up command installs for rendering.
    apt = re.search(r"apt-get install -y --no-install-recommends (.*?)&&", runs[0]).group(1)
    packages = apt.split()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0",
                    "python3-venv"):
        assert package in packages
    if shutil.which("apt-cache"):
        shown = subprocess.run(["apt-cache", "show", *packages], capture_output=True,
                               text=True)
        assert shown.returncode == 0, shown.stderr
    # pip installs this project with the serve extra, which pyproject defines.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    install = re.search(r'pip install --no-cache-dir "/src\[(\w+)\]"', runs[1])
    assert install and install.group(1) in extras
    assert dict(steps)["COPY"].split()[0] == "."
    # Every shell command parses.
    for run in runs:
        subprocess.run(["bash", "-n", "-c", run], check=True)
    # CMD runs the service as the command line knows it, on all interfaces, with keys.
    cmd = json.loads(dict(steps)["CMD"])
    params = serve_args(cmd)
    assert params["host"] == "0.0.0.0" and params["port"] == 8000
    env = dict(steps)["ENV"]
    assert "HANDOUTS_API_KEYS=" in env and "HANDOUTS_CACHE_DIR=" in env
    assert dict(steps)["USER"] != "root"
    health = dict(steps)["HEALTHCHECK"]
    assert "/readyz" in health and ":8000/" in health


def test_kubernetes_manifests():
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in docs}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"][
        "labels"].items()
    (container,) = pod["spec"]["containers"]
    port = container["ports"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["port"] == port["name"]
    params = serve_args(container["args"])
    assert params["port"] == port["containerPort"] and params["host"] == "0.0.0.0"
    env = {e["name"]: e for e in container["env"]}
    assert {"HANDOUTS_API_KEYS", "HANDOUTS_SESSION_SECRET", "HANDOUTS_CACHE_DIR"} <= set(env)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["HANDOUTS_API_KEYS"]["value"].rsplit("/", 1)[0] in mounts
    assert env["HANDOUTS_CACHE_DIR"]["value"] in mounts and "/tmp" in mounts
    hpa = kinds["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    service = kinds["Service"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_systemd_unit():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "handouts.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/bin/handouts") and argv[1] == "serve"
    params = serve_args(argv)
    assert params["host"] == "0.0.0.0"
    text = (DEPLOY / "handouts.service").read_text()
    assert "Environment=HANDOUTS_API_KEYS=%d/api-keys" in text
    assert "LoadCredential=api-keys:" in text and "DynamicUser=yes" in text
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "verify", str(DEPLOY / "handouts.service")],
                                capture_output=True, text=True)
        # Only the missing /opt/handouts may be reported on a machine without it.
        problems = [line for line in result.stderr.splitlines()
                    if line.strip() and "/opt/handouts" not in line]
        assert not problems, result.stderr


@pytest.mark.parametrize("args, message", [
    (["--port", "80000"], "80000"), (["--workers", "0"], "0"), (["--colour"], "colour")])
def test_bad_serve_options_are_refused(args, message):
    import click

    with pytest.raises(click.UsageError) as info:
        serve.make_context("serve", args)
    assert message in str(info.value)
