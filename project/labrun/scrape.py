"""The Prometheus scrape configuration of a lab on one machine: every service's GET /metrics, and
RabbitMQ's own rabbitmq_prometheus plugin (per queue), scraped every 2 s. Compose keeps the same jobs,
with the services' names, in project/prometheus/prometheus.yml; the swarm stack in
project/prometheus/swarm.yml, where each job finds every replica of its service in DNS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCRAPE_INTERVAL = "2s"
RABBITMQ_JOB = "rabbitmq"
# Per queue and vhost (the plugin's default /metrics adds every queue up).
RABBITMQ_METRICS_PATH = "/metrics/per-object"
# How often a swarm job looks its replicas up again (tasks.<service>: one address per replica).
DNS_REFRESH = "5s"


def _replicas(addresses: list[str]) -> dict[str, Any]:
    """Every replica of each host:port's service, from swarm's DNS (tasks.<service>); one port per job."""
    hosts, ports = zip(*(address.rsplit(":", 1) for address in addresses), strict=True)
    (port,) = set(ports)
    names = [f"tasks.{host}" for host in hosts]
    lookup = {"names": names, "type": "A", "port": int(port), "refresh_interval": DNS_REFRESH}
    return {"dns_sd_configs": [lookup]}


def scrape_config(targets: dict[str, list[str]], *, replicas: bool = False) -> dict[str, Any]:
    """A job per name, scraping its host:port targets (with replicas, every replica of each, found in
    swarm's DNS); the "rabbitmq" job at the plugin's per-object path."""
    jobs = []
    for job, addresses in targets.items():
        found = _replicas(addresses) if replicas else {"static_configs": [{"targets": addresses}]}
        entry: dict[str, Any] = {"job_name": job, **found}
        if job == RABBITMQ_JOB:
            entry["metrics_path"] = RABBITMQ_METRICS_PATH
        jobs.append(entry)
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": "15s",
        },
        "scrape_configs": jobs,
    }


def write_scrape_config(path: Path, targets: dict[str, list[str]], *, replicas: bool = False) -> None:
    """Write it as JSON, which is YAML too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scrape_config(targets, replicas=replicas), indent=2) + "\n")
