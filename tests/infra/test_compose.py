"""docker-compose.yml cannot run here (no Docker engine): check it refers only to real things."""
from pathlib import Path

import yaml

from cli.main import _load_commands, cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())


def _ours():
    return {name: s for name, s in SERVICES.items() if "build" in s}


def test_kafka_kraft_registry_and_dependencies():
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:") and "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert "8081" in SERVICES["schema-registry"]["environment"]["SCHEMA_REGISTRY_LISTENERS"]
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, (name, dependency)
        if service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_our_services_run_real_commands_against_the_compose_kafka():
    _load_commands()
    for name, service in _ours().items():
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert service["command"][0] in cli.commands, (name, service["command"])
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    assert packages <= copied, packages - copied


def test_prometheus_scrapes_every_service_exposing_metrics():
    targets = {t for job in PROMETHEUS["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    for name, service in _ours().items():
        port = service.get("environment", {}).get("BACKOFFICE_WEB_PORT") if service.get("command") == ["worker"] \
            else service.get("environment", {}).get("BACKOFFICE_METRICS_PORT")
        if port:
            assert f"{name}:{port}" in targets, name
    assert any(job["job_name"] == "backoffice-worker" for job in PROMETHEUS["scrape_configs"])
    assert {"connector-quickbooks", "connector-xero"} <= set(SERVICES)


def test_the_connectors_config_names_registered_systems():
    from connectors.registry import FACTORIES, load_connections

    connections = load_connections(ROOT / "deploy" / "connectors.yaml")
    assert connections and {c.system for c in connections.values()} <= set(FACTORIES)
