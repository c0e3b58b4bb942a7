"""The Prometheus scrape configuration of a lab on one machine: every service's GET /metrics, and
RabbitMQ's own rabbitmq_prometheus plugin (per queue), scraped every 2 s. Compose keeps the same jobs,
with the services' names, in project/prometheus/prometheus.yml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCRAPE_INTERVAL = "2s"
RABBITMQ_JOB = "rabbitmq"
# Per queue and vhost (the plugin's default /metrics adds every queue up).
RABBITMQ_METRICS_PATH = "/metrics/per-object"


def scrape_config(targets: dict[str, list[str]]) -> dict[str, Any]:
    """A job per name, scraping its host:port targets; the "rabbitmq" job at the plugin's per-object path."""
    jobs = []
    for job, addresses in targets.items():
        entry: dict[str, Any] = {"job_name": job, "static_configs": [{"targets": addresses}]}
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


def write_scrape_config(path: Path, targets: dict[str, list[str]]) -> None:
    """Write it as JSON, which is YAML too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scrape_config(targets), indent=2) + "\n")
