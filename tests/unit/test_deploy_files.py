"""The deployment files in deploy/ agree with the service and with each other.

No container engine runs here, so the files are checked offline: the proxy config by HAProxy's
own check, the compose file and the Kubernetes manifests parsed as YAML (probes, ports,
non-root, migrations as their own step, drain time), and every ``ADVICE_LINE_*`` variable
named anywhere in deploy/ against the settings that exist.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from advice_line.cli import PRODUCTION_DRAIN_SECONDS
from advice_line.settings import Settings, env_name
from tests.cluster_helpers import (
    HAPROXY_CONFIG,
    haproxy_or_skip,
    proxy_environment,
    write_self_signed_pem,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: What a node may spend after SIGTERM besides draining: requests in flight (10 s in
#: ``advice-line serve``), closing the WebSockets and the stores.
SHUTDOWN_SECONDS = 10 + 5
SETTINGS = {env_name(f.name) for f in dataclasses.fields(Settings)} | {"ADVICE_LINE_CONFIG_FILE"}


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s, by kind (one of each kind)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] not in found, f"two {doc['kind']} objects"
            found[doc["kind"]] = doc
    return found


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def _drain(command: list[str]) -> float:
    return float(command[command.index("--drain-seconds") + 1]) if "--drain-seconds" in command else PRODUCTION_DRAIN_SECONDS  # fmt: skip


def test_every_advice_line_variable_in_deploy_is_a_real_setting() -> None:
    named: dict[str, str] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for name in re.findall(r"ADVICE_LINE_[A-Z0-9_]+", path.read_text(encoding="utf-8")):
                named.setdefault(name, path.name)
    assert "ADVICE_LINE_DATABASE_URL" in named  # the scan sees the files
    unknown = {name: where for name, where in named.items() if name not in SETTINGS}
    assert unknown == {}, "not settings (advice_line/settings.py)"


def test_the_image_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"HEALTHCHECK .*\n.*CMD .*http://127\.0\.0\.1:8080/healthz", runtime)
    assert re.search(r"^EXPOSE 8080$", runtime, re.MULTILINE)
    assert 'CMD ["advice-line", "serve"]' in runtime
    assert "ADVICE_LINE_ENVIRONMENT=production" in runtime  # so migrations are not run at start


def test_compose_runs_two_nodes_behind_the_proxy_with_migrations_first() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "app1", "app2", "proxy", "coturn"}
    assert services["migrate"]["command"] == ["advice-line", "migrate"]
    for name in ("app1", "app2"):
        node = services[name]
        assert node["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "ports" not in node, "nodes are reached through the proxy only"
        assert node["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        env = node["environment"]
        assert env["ADVICE_LINE_ENVIRONMENT"] == "production"
        assert env["ADVICE_LINE_TRUST_PROXY_HEADERS"] == "true"
        assert "@postgres:5432/" in env["ADVICE_LINE_DATABASE_URL"]
        assert "@redis:6379/" in env["ADVICE_LINE_REDIS_URL"]
        grace = int(node["stop_grace_period"].rstrip("s"))
        assert grace >= PRODUCTION_DRAIN_SECONDS + SHUTDOWN_SECONDS
    proxy = services["proxy"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in proxy["volumes"]
    config = HAPROXY_CONFIG.read_text(encoding="utf-8").splitlines()
    needed = set(re.findall(r"\$\{(\w+)\}", "\n".join(x for x in config if not x.startswith("#"))))
    assert needed <= set(proxy["environment"]), needed - set(proxy["environment"])
    assert {proxy["environment"]["APP_NODE_1"], proxy["environment"]["APP_NODE_2"]} == {
        "app1:8080",
        "app2:8080",
    }
    assert "./turnserver.conf:/etc/coturn/turnserver.conf:ro" in services["coturn"]["volumes"]


def test_the_deployment_probes_ready_and_alive_and_drains_in_time() -> None:
    objects = _manifests()
    assert set(objects) >= {"Deployment", "Service", "Job", "ConfigMap", "Secret",
                            "PodDisruptionBudget", "Ingress"}  # fmt: skip
    deployment = objects["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["args"][:2] == ["advice-line", "serve"]
    drain = _drain(container["args"])
    assert pod["terminationGracePeriodSeconds"] >= drain + SHUTDOWN_SECONDS
    # Readiness must notice a drain well before the drain is over.
    probe = container["readinessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] < drain
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    service = objects["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    budget = objects["PodDisruptionBudget"]["spec"]
    assert (
        budget["minAvailable"] == 1 and budget["selector"]["matchLabels"].items() <= labels.items()
    )


def test_migrations_run_as_their_own_job_with_the_same_configuration() -> None:
    objects = _manifests()
    job = objects["Job"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["command"] == ["advice-line", "migrate"]
    assert job["securityContext"]["runAsNonRoot"] is True
    (app,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == app["envFrom"]
    assert container["image"] == app["image"]
    refs = {next(iter(r.values()))["name"] for r in app["envFrom"]}
    assert refs == {objects["ConfigMap"]["metadata"]["name"], objects["Secret"]["metadata"]["name"]}
    for key in [*objects["ConfigMap"]["data"], *objects["Secret"]["stringData"]]:
        assert key in SETTINGS, key


def test_the_systemd_unit_serves_and_waits_for_the_drain() -> None:
    unit = (DEPLOY / "advice-line.service").read_text(encoding="utf-8")
    start = re.search(r"^ExecStart=(.+)$", unit, re.MULTILINE)
    assert start is not None
    command = start[1].split()
    assert command[0].endswith("/advice-line") and command[1] == "serve"
    stop = re.search(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE)
    assert stop is not None and int(stop[1]) >= _drain(command) + SHUTDOWN_SECONDS
    assert re.search(r"^User=advice-line$", unit, re.MULTILINE)


def test_the_proxy_config_passes_websockets_and_checks_readiness() -> None:
    text = HAPROXY_CONFIG.read_text(encoding="utf-8")
    assert re.search(r"^\s+timeout tunnel (\d+)h$", text, re.MULTILINE), "WebSockets live long"
    assert "http-check send meth GET uri /readyz" in text
    assert re.search(r"^\s+bind \"\$\{HTTPS_BIND\}\" ssl crt", text, re.MULTILINE)
    assert "cookie" not in text.lower(), "no sticky sessions"


def test_haproxy_accepts_the_proxy_config(tmp_path: Path) -> None:
    binary = haproxy_or_skip()
    env = proxy_environment(write_self_signed_pem(tmp_path), 18443, 18080,
                            {"app1": 18081, "app2": 18082}, tmp_path / "admin.sock")  # fmt: skip
    result = subprocess.run(
        [binary, "-c", "-f", str(HAPROXY_CONFIG)], env=env, capture_output=True, text=True,
        check=False, timeout=30,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    assert "WARNING" not in output, output


@pytest.mark.parametrize(
    "name", ["compose.yaml", *[p.name for p in (DEPLOY / "k8s").glob("*.yaml")]]
)
def test_yaml_files_parse(name: str) -> None:
    path = DEPLOY / name if (DEPLOY / name).exists() else DEPLOY / "k8s" / name
    assert list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def test_the_outage_spool_outlives_a_node_and_every_node_can_replay_it() -> None:
    """docs/operations.md, "PostgreSQL outage": the spool is on a volume shared by the nodes,
    at <data_dir>/spool, in the container image, compose and Kubernetes alike."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "ADVICE_LINE_DATA_DIR=/var/lib/advice-line" in dockerfile
    assert "/var/lib/advice-line/spool" in dockerfile  # owned by the unprivileged user
    services = _compose()["services"]
    assert (
        services["app1"]["volumes"]
        == services["app2"]["volumes"]
        == ["spool:/var/lib/advice-line/spool"]
    )
    assert "spool" in _compose()["volumes"]
    objects = _manifests()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["spool"] == "/var/lib/advice-line/spool"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "spool"]
    claim = objects["PersistentVolumeClaim"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
