"""project/k8s, checked offline: kubernetes-validate --strict on every manifest (and on the kustomize
output where a kustomize is installed), the kustomization lists every manifest, and each lab service gets
exactly the environment its code reads, probes, limits and a locked-down security context."""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlsplit

import pytest
import yaml
from deploy_support import (
    K8S,
    compose_config,
    compose_service_of,
    env_vars_read,
    k8s_container_env,
    k8s_objects,
    lab_services,
    manifest_files,
    manifests,
    run,
    venv_tool,
)

from labkit.serve import GRACEFUL_TIMEOUT_S

SERVICES = lab_services()
# The services gunicorn serves (labkit.serve.run_service), which drain on SIGTERM; the listener does not.
DRAINING = [s for s in SERVICES if "DRAIN_SECONDS" in env_vars_read(s)]
CREDENTIAL = re.compile(r"PASSWORD|SECRET|TOKEN|://[^/@\s]+:[^/@\s]+@")


def validate(paths: list) -> None:
    result = run([venv_tool("kubernetes-validate"), "--strict", "--quiet", *paths])
    assert result.returncode == 0, result.stdout + result.stderr


def kustomize_build() -> str | None:
    """The kustomize output, from a kustomize binary or kubectl's built-in one, when either is installed."""
    if kustomize := shutil.which("kustomize"):
        command = [kustomize, "build", K8S]
    elif kubectl := shutil.which("kubectl"):
        command = [kubectl, "kustomize", K8S]
    else:
        return None
    result = run(command)
    assert result.returncode == 0, result.stderr
    return result.stdout


def deployment_of(service) -> dict:
    return k8s_objects("Deployment")[compose_service_of(service)]


def container_of(service) -> dict:
    (container,) = deployment_of(service)["spec"]["template"]["spec"]["containers"]
    return container


def test_every_manifest_validates_strictly():
    validate(manifest_files())


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = sorted(kustomization["resources"])
    assert listed == sorted(str(p.relative_to(K8S)) for p in manifest_files())
    (namespace,) = k8s_objects("Namespace")
    assert kustomization["namespace"] == namespace


def test_what_kubectl_apply_k_would_apply_validates(tmp_path):
    rendered = kustomize_build()
    if rendered is None:
        print("no kustomize or kubectl installed: validated the listed manifests themselves")
        validate(manifest_files())
        return
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert names == {(d["kind"], d["metadata"]["name"]) for d in manifests()}
    assert all(
        d["metadata"].get("namespace") == "microservices-lab" for d in documents if d["kind"] != "Namespace"
    )
    output = tmp_path / "rendered.yaml"
    output.write_text(rendered)
    validate([output])


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_environment_is_exactly_what_the_service_reads(service):
    read, given = env_vars_read(service), set(k8s_container_env(deployment_of(service)))
    assert not read - given, f"{service.folder} reads but the manifests do not set: {sorted(read - given)}"
    assert not given - read, f"the manifests set but {service.folder} never reads: {sorted(given - read)}"


def test_credentials_live_in_secrets_only():
    for name, config_map in k8s_objects("ConfigMap").items():
        for key, value in config_map["data"].items():
            assert not CREDENTIAL.search(key) and not CREDENTIAL.search(value), (
                f"{name}: {key} belongs in a Secret"
            )
    for doc in manifests():
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for item in container.get("env", []):
                assert not CREDENTIAL.search(item["name"] + item.get("value", "")), f"{item['name']} inline"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_image_replicas_and_service_match_compose(service):
    name = compose_service_of(service)
    deployment, container = deployment_of(service), container_of(service)
    assert container["image"] == compose_config()["services"][name]["image"]
    assert deployment["spec"]["replicas"] >= 2
    env = k8s_container_env(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == int(env["PORT"])
    service_ports = {p["targetPort"] for p in k8s_objects("Service")[name]["spec"]["ports"]}
    assert service_ports == set(ports)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert k8s_objects("Service")[name]["spec"]["selector"].items() <= labels.items()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_probes_ask_readyz_and_healthz(service):
    container = container_of(service)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


@pytest.mark.parametrize("service", DRAINING, ids=lambda s: s.folder)
def test_a_pod_that_stops_drains_first_and_has_the_time_to(service):
    """Kubernetes drops a deleted pod from its endpoints while it signals it: an HTTP service keeps
    serving (readyz 503) meanwhile, then stops gracefully (gunicorn's graceful timeout) within the grace
    period."""
    env = k8s_container_env(deployment_of(service))
    pod = deployment_of(service)["spec"]["template"]["spec"]
    assert int(env["DRAIN_SECONDS"]) > 0
    assert pod["terminationGracePeriodSeconds"] > int(env["DRAIN_SECONDS"]) + GRACEFUL_TIMEOUT_S


def test_logger_is_also_probed_over_grpc_health():
    logger = next(s for s in SERVICES if s.package == "logger")
    container = container_of(logger)
    grpc_probes = [p["grpc"] for p in container.values() if isinstance(p, dict) and "grpc" in p]
    assert grpc_probes == [{"port": int(k8s_container_env(deployment_of(logger))["GRPC_PORT"])}]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_pods_are_locked_down_and_bounded(service):
    pod = deployment_of(service)["spec"]["template"]["spec"]
    container = container_of(service)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}


def test_backing_stores_run_with_storage_probes_and_limits():
    stateful = k8s_objects("StatefulSet")
    assert set(stateful) == {"postgres", "mongo", "rabbitmq"}
    assert "mailhog" in k8s_objects("Deployment")
    for name in ("postgres", "mongo", "rabbitmq", "mailhog"):
        workload = stateful.get(name) or k8s_objects("Deployment")[name]
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert "readinessProbe" in container and "livenessProbe" in container, name
        assert set(container["resources"]) == {"requests", "limits"}, name
        pod_security = workload["spec"]["template"]["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        assert name in k8s_objects("Service"), name
        if name in stateful:
            assert workload["spec"]["volumeClaimTemplates"], name


def test_addresses_name_services_on_their_ports():
    services = k8s_objects("Service")
    for deployment in k8s_objects("Deployment").values():
        for key, value in k8s_container_env(deployment).items():
            parts = urlsplit(value if "://" in value else f"//{value}")
            if parts.hostname in services and ("://" in value or parts.port):
                ports = {p["port"] for p in services[parts.hostname]["spec"]["ports"]}
                assert parts.port in ports, f"{deployment['metadata']['name']}.{key}={value}"


def test_ingress_serves_the_test_page_and_the_broker_it_calls():
    (ingress,) = k8s_objects("Ingress").values()
    hosts = {
        rule["host"]: rule["http"]["paths"][0]["backend"]["service"] for rule in ingress["spec"]["rules"]
    }
    services = k8s_objects("Service")
    for backend in hosts.values():
        assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    by_service = {backend["name"]: host for host, backend in hosts.items()}
    front_end = next(s for s in SERVICES if s.package == "frontend")
    broker = next(s for s in SERVICES if s.package == "broker")
    page_env = k8s_container_env(deployment_of(front_end))
    assert urlsplit(page_env["BROKER_URL"]).hostname == by_service["broker"]
    assert urlsplit(page_env["MAIL_UI_URL"]).hostname == by_service["mailhog"]
    assert f"http://{by_service['front-end']}" in k8s_container_env(deployment_of(broker))[
        "CORS_ORIGINS"
    ].split(",")
