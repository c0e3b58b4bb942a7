# The lab on Docker Swarm (swarm.yml), behind Caddy, included by project/Makefile. `make help` lists the
# targets. The images are the ones compose builds (docker.mk), IMAGES=local included.
STACK ?= microservices-lab
SWARM_FILES := swarm.yml $(if $(filter local,$(IMAGES)),swarm.local.yml)
CADDY_LOCAL_IMAGE := microservices-lab/caddy:local
# A swarm config cannot change once made, so each is named after a digest of its content.
digest = $(shell sha256sum $(DOCKER_DIR)/$(1) | cut -c1-12)
SWARM_CONFIGS := CADDYFILE_DIGEST=$(call digest,caddy/Caddyfile) \
	PROMETHEUS_DIGEST=$(call digest,prometheus/swarm.yml) \
	RABBITMQ_PLUGINS_DIGEST=$(call digest,rabbitmq/enabled_plugins)
SWARM_TIMEOUT ?= 600
# Swarm's healthchecks are liveness; readiness is the broker's, through Caddy (asked five times in a row,
# round robin over its replicas): every service and server it calls accepts connections.
SWARM_READY_URL := http://127.0.0.1:8000/api/readyz
SWARM_URLS := "Test page: http://localhost:8000  inbox: http://inbox.localhost:8000  RabbitMQ: http://rabbitmq.localhost:8000  Prometheus: http://prometheus.localhost:8000"

.PHONY: swarm-init swarm-leave swarm-engine swarm-images swarm-up swarm-wait swarm-down swarm-ps swarm-scale

# A swarm publishes a port in mode host on every address of the node: its port config has no address.
# On a single-node swarm made here, the bridge those ports go through (docker_gwbridge, made before the
# swarm so that swarm keeps it) binds them to 127.0.0.1 only, as compose's ports are.
swarm-init: docker-engine ## Make this engine a single-node swarm whose published ports bind to 127.0.0.1 only
	docker network create --driver bridge \
		--opt com.docker.network.bridge.name=docker_gwbridge \
		--opt com.docker.network.bridge.enable_icc=false \
		--opt com.docker.network.bridge.enable_ip_masquerade=true \
		--opt com.docker.network.bridge.host_binding_ipv4=127.0.0.1 \
		docker_gwbridge
	docker swarm init --advertise-addr 127.0.0.1

swarm-leave: docker-engine ## Leave the single-node swarm swarm-init made (its stacks go with it) and remove its bridge
	docker swarm leave --force
	docker network rm docker_gwbridge

swarm-engine: docker-engine ## Fail with a clear message when the Docker engine is not a swarm manager
	@test "$$(docker info --format '{{.Swarm.ControlAvailable}}')" = true || { \
		echo "This Docker engine is not a swarm manager: make it a single-node swarm with \`make swarm-init\`" >&2; \
		echo "(docker swarm init --advertise-addr 127.0.0.1, ports bound to 127.0.0.1 only; \`make swarm-leave\`" >&2; \
		echo "undoes it), or point DOCKER_HOST at a manager of your swarm." >&2; \
		exit 1; }

swarm-images: swarm-engine env-file images ## Build the lab's images as compose does (and Caddy's, with IMAGES=local)
	$(COMPOSE) build
ifeq ($(IMAGES),local)
	docker build --quiet --tag $(CADDY_LOCAL_IMAGE) --build-arg PYTHON_IMAGE=microservices-lab/python:3.11-bookworm \
		$(DOCKER_DIR)/images/caddy
endif

swarm-up: swarm-images ## Deploy the lab as a swarm stack behind Caddy on port 8000, waiting until every replica is ready
	cd $(DOCKER_DIR) && set -a && . $(ENV_FILE) && set +a && $(SWARM_CONFIGS) \
		docker stack deploy --prune --resolve-image never $(foreach f,$(SWARM_FILES),--compose-file $(f)) $(STACK)
	@$(MAKE) --no-print-directory swarm-wait
	@echo $(SWARM_URLS)

swarm-wait: swarm-engine ## Wait until every service runs all its replicas, no update is under way, and the brokers are ready
	@deadline=$$(( $$(date +%s) + $(SWARM_TIMEOUT) )); \
	while :; do \
		pending=$$(docker service ls --filter label=com.docker.stack.namespace=$(STACK) \
			--format '{{.Name}} {{.Replicas}}' | awk '{split($$2, r, "/"); if (r[1] != r[2]) print $$1 " " $$2}'; \
			docker service ls --quiet --filter label=com.docker.stack.namespace=$(STACK) | xargs -r docker service inspect \
			--format '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' | grep -E ' (updating|rollback_started)$$'); \
		total=$$(docker service ls --quiet --filter label=com.docker.stack.namespace=$(STACK) | wc -l); \
		if [ "$$total" -gt 0 ] && [ -z "$$pending" ]; then echo "Every service of $(STACK) runs all its replicas."; break; fi; \
		if [ "$$(date +%s)" -ge "$$deadline" ]; then \
			echo "Not converged within $(SWARM_TIMEOUT) s (running/wanted): $$pending" >&2; \
			echo "See \`make swarm-ps\` and \`docker service logs $(STACK)_<service>\`." >&2; exit 1; fi; \
		sleep 2; \
	done; \
	ready=0; \
	while [ "$$ready" -lt 5 ]; do \
		if curl -fsS -o /dev/null --max-time 5 $(SWARM_READY_URL) 2>/dev/null; then ready=$$((ready + 1)); else ready=0; fi; \
		if [ "$$(date +%s)" -ge "$$deadline" ]; then \
			echo "$(SWARM_READY_URL) did not answer ready within $(SWARM_TIMEOUT) s: see \`docker service logs $(STACK)_broker\`." >&2; exit 1; fi; \
		sleep 1; \
	done; \
	echo "Ready: the brokers behind Caddy reach every service they call."

swarm-down: swarm-engine ## Remove the stack (its services, networks and configs; the data volumes stay)
	docker stack rm $(STACK)
	@while docker network ls --quiet --filter label=com.docker.stack.namespace=$(STACK) | grep -q .; do sleep 1; done

swarm-ps: swarm-engine ## List the stack's services and their running replicas
	docker stack services $(STACK)
	docker stack ps --filter desired-state=running $(STACK)

swarm-scale: swarm-engine ## Scale one service: make swarm-scale SERVICE=listener REPLICAS=3
	@test -n "$(SERVICE)" -a -n "$(REPLICAS)" || { echo "usage: make swarm-scale SERVICE=listener REPLICAS=3" >&2; exit 1; }
	docker service scale --detach=false $(STACK)_$(SERVICE)=$(REPLICAS)
