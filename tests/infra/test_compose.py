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


def _metrics_port(service: dict) -> str | None:
    """The port a service serves /metrics on: the worker's web server, or BACKOFFICE_METRICS_PORT."""
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so the checks here can read it"
    if env.get("BACKOFFICE_METRICS_PORT"):
        return str(env["BACKOFFICE_METRICS_PORT"])
    if (service.get("command") or [None])[0] == "worker" and str(env.get("BACKOFFICE_WEB")) == "1":
        return str(env.get("BACKOFFICE_WEB_PORT", "6066"))
    return None


def test_prometheus_scrapes_every_service_exposing_metrics():
    targets = {t for job in PROMETHEUS["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    exposing = {name: port for name, service in SERVICES.items() if (port := _metrics_port(service))}
    assert {"worker", "connector-quickbooks", "connector-xero"} <= set(exposing)
    unscraped = {f"{name}:{port}" for name, port in exposing.items()} - targets
    assert not unscraped, f"not scraped by deploy/prometheus.yml: {sorted(unscraped)}"
    for name, port in exposing.items():
        assert port in {str(p) for p in SERVICES[name].get("expose", [])}, f"{name} does not expose {port}"
    for target in targets - {"localhost:9090"}:
        host, _, port = target.rpartition(":")
        assert exposing.get(host) == port, f"prometheus scrapes {target}, which serves no metrics"
    assert any(job["job_name"] == "backoffice-worker" for job in PROMETHEUS["scrape_configs"])


def test_the_worker_records_where_the_connectors_read():
    worker = SERVICES["worker"]
    env = worker["environment"]
    store = env["BACKOFFICE_DOCUMENT_STORE"]
    assert store.startswith("/var/lib/backoffice/") and env["BACKOFFICE_SENT_LOG"].startswith("/var/lib/backoffice/")
    for name in ("connector-quickbooks", "connector-xero"):
        assert SERVICES[name]["environment"]["BACKOFFICE_DOCUMENT_STORE"] == store, name
        assert "backoffice-data:/var/lib/backoffice" in SERVICES[name]["volumes"], name
    assert "backoffice-data:/var/lib/backoffice" in worker["volumes"]
    assert env["BACKOFFICE_SMTP_HOST"] and env["BACKOFFICE_SMTP_PORT"]
    assert "BACKOFFICE_OPS_TOKENS" not in env, "the worker serves no API: the tokens belong to the api service"
    smtp_host = env["BACKOFFICE_SMTP_HOST"].removeprefix("${BACKOFFICE_SMTP_HOST:-").removesuffix("}")
    assert smtp_host in SERVICES and smtp_host in worker["depends_on"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER backoffice" in dockerfile and "chown -R backoffice /var/lib/backoffice" in dockerfile
    for setting in ("BACKOFFICE_DOCUMENT_STORE", "BACKOFFICE_SENT_LOG", "BACKOFFICE_TOKEN_DIR"):
        assert f"{setting}=/var/lib/backoffice/" in dockerfile, f"{setting} would default under root-owned /app"


def test_the_connectors_config_names_registered_systems():
    from connectors.registry import FACTORIES, load_connections

    connections = load_connections(ROOT / "deploy" / "connectors.yaml")
    assert connections and {c.system for c in connections.values()} <= set(FACTORIES)


def test_the_api_reads_the_projectors_database_with_the_ops_tokens():
    api, projector = SERVICES["api"], SERVICES["projector"]
    assert api["command"] == ["api"]
    env = api["environment"]
    assert env["BACKOFFICE_DATABASE_URL"] == projector["environment"]["BACKOFFICE_DATABASE_URL"]
    assert env["BACKOFFICE_OPS_TOKENS"] and env["BACKOFFICE_API_HOST"] == "0.0.0.0"
    assert str(env["BACKOFFICE_API_PORT"]) in {str(p) for p in api["expose"]}
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
