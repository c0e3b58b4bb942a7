# The lab in containers (docker-compose.yml), included by project/Makefile. `make help` lists the targets.
DOCKER_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
DOCKER_COMPOSE ?= docker compose
# IMAGES=local builds every image on this machine from Debian packages and PyPI, for a machine that
# reaches no container registry (docker-compose.local.yml); otherwise the backing images are the pinned
# official ones and the lab's are built on the pinned official Python image.
IMAGES ?= official
COMPOSE_FILES := docker-compose.yml $(if $(filter local,$(IMAGES)),docker-compose.local.yml)
COMPOSE := $(DOCKER_COMPOSE) --project-directory $(DOCKER_DIR) $(foreach f,$(COMPOSE_FILES),--file $(DOCKER_DIR)/$(f))
ENV_FILE := $(DOCKER_DIR)/.env
# What IMAGES=local keeps between runs (gitignored): the Debian root file system and a copy of the host's
# extra CA certificates, which the Python base image trusts.
LOCAL_CACHE := $(DOCKER_DIR)/.docker
LOCAL_ROOTFS_IMAGE := microservices-lab/debian-rootfs:bookworm
HOST_CA_CERTIFICATES := /usr/local/share/ca-certificates

.PHONY: docker-engine env-file images up up-build up_build down logs ps \
	build-broker build-front-end build-authentication build-logger build-mail build-listener \
	build_broker build_front_end build_authentication build_logger build_mail build_listener

docker-engine: ## Fail with a clear message when no Docker engine is reachable
	@docker info >/dev/null 2>&1 || { \
		echo "No Docker engine is reachable: start Docker (or fix DOCKER_HOST), or use \`make run\` to run the lab natively." >&2; \
		exit 1; }

env-file: ## Create project/.env from .env.example if it is missing (never overwrites it)
	@test -f $(ENV_FILE) || { cp $(DOCKER_DIR)/.env.example $(ENV_FILE) && \
		echo "Created project/.env from .env.example (the lab's default credentials); edit it to change them."; }

images: docker-engine env-file ## Say which images the lab runs; with IMAGES=local, make the Python base from Debian
ifeq ($(IMAGES),local)
	@echo "Images: local (IMAGES=local), built here from Debian packages and PyPI, no registry needed:"
	@echo "  the lab's services on Python 3.11 from Debian (debootstrap), PostgreSQL 15, RabbitMQ and Prometheus from"
	@echo "  Debian, SecantusDB standing in for MongoDB and the lab's mail catcher for MailHog."
	$(DOCKER_DIR)/images/python-base/rootfs.sh $(LOCAL_ROOTFS_IMAGE) $(LOCAL_CACHE)/cache
	rm -rf $(LOCAL_CACHE)/ca-certificates && mkdir -p $(LOCAL_CACHE)/ca-certificates
	if [ -d $(HOST_CA_CERTIFICATES) ]; then cp -R $(HOST_CA_CERTIFICATES)/. $(LOCAL_CACHE)/ca-certificates/; fi
	$(COMPOSE) build --build-arg ROOTFS_IMAGE=$(LOCAL_ROOTFS_IMAGE) python-base
else
	@echo "Images: the pinned official ones (no registry here? use IMAGES=local, e.g. make up-build IMAGES=local)"
endif

up: docker-engine env-file images ## Start the lab in containers, waiting until every service is healthy
	$(COMPOSE) up --detach --wait
	@echo "Test page: http://localhost:8081  broker: http://localhost:8080  inbox: http://localhost:8025  RabbitMQ: http://localhost:15672"

up-build: docker-engine env-file images ## Build the images, then start the lab as `up` does
	$(COMPOSE) up --detach --build --wait
	@echo "Test page: http://localhost:8081  broker: http://localhost:8080  inbox: http://localhost:8025  RabbitMQ: http://localhost:15672"

up_build: up-build ## Same as up-build (the course's spelling)

down: docker-engine ## Stop and remove the lab's containers (the data volumes stay)
	$(COMPOSE) down

logs: docker-engine ## Follow the services' logs (one service: make logs SERVICE=broker)
	$(COMPOSE) logs --follow --tail=100 $(SERVICE)

ps: docker-engine ## List the lab's containers and their health
	$(COMPOSE) ps

build-broker: docker-engine env-file images ## Rebuild and restart the broker alone
	$(COMPOSE) up --detach --no-deps --build broker

build-front-end: docker-engine env-file images ## Rebuild and restart the test page alone
	$(COMPOSE) up --detach --no-deps --build front-end

build-authentication: docker-engine env-file images ## Rebuild and restart the authentication service alone
	$(COMPOSE) up --detach --no-deps --build authentication

build-logger: docker-engine env-file images ## Rebuild and restart the logger alone
	$(COMPOSE) up --detach --no-deps --build logger

build-mail: docker-engine env-file images ## Rebuild and restart the mail service alone
	$(COMPOSE) up --detach --no-deps --build mail

build-listener: docker-engine env-file images ## Rebuild and restart the listener alone
	$(COMPOSE) up --detach --no-deps --build listener

build_broker: build-broker ## Same as build-broker
build_front_end: build-front-end ## Same as build-front-end
build_authentication: build-authentication ## Same as build-authentication
build_logger: build-logger ## Same as build-logger
build_mail: build-mail ## Same as build-mail
build_listener: build-listener ## Same as build-listener
