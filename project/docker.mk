# The lab in containers (docker-compose.yml), included by project/Makefile. `make help` lists the targets.
DOCKER_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
DOCKER_COMPOSE ?= docker compose
COMPOSE := $(DOCKER_COMPOSE) --project-directory $(DOCKER_DIR) --file $(DOCKER_DIR)/docker-compose.yml
ENV_FILE := $(DOCKER_DIR)/.env

.PHONY: docker-engine env-file up up-build up_build down logs ps \
	build-broker build-front-end build-authentication build-logger build-mail build-listener \
	build_broker build_front_end build_authentication build_logger build_mail build_listener

docker-engine: ## Fail with a clear message when no Docker engine is reachable
	@docker info >/dev/null 2>&1 || { \
		echo "No Docker engine is reachable: start Docker (or fix DOCKER_HOST), or use \`make run\` to run the lab natively." >&2; \
		exit 1; }

env-file: ## Create project/.env from .env.example if it is missing (never overwrites it)
	@test -f $(ENV_FILE) || { cp $(DOCKER_DIR)/.env.example $(ENV_FILE) && \
		echo "Created project/.env from .env.example (the lab's default credentials); edit it to change them."; }

up: docker-engine env-file ## Start the lab in containers, waiting until every service is healthy
	$(COMPOSE) up --detach --wait
	@echo "Test page: http://localhost:8081  broker: http://localhost:8080  inbox: http://localhost:8025  RabbitMQ: http://localhost:15672"

up-build: docker-engine env-file ## Build the images, then start the lab as `up` does
	$(COMPOSE) up --detach --build --wait
	@echo "Test page: http://localhost:8081  broker: http://localhost:8080  inbox: http://localhost:8025  RabbitMQ: http://localhost:15672"

up_build: up-build ## Same as up-build (the course's spelling)

down: docker-engine ## Stop and remove the lab's containers (the data volumes stay)
	$(COMPOSE) down

logs: docker-engine ## Follow the services' logs (one service: make logs SERVICE=broker)
	$(COMPOSE) logs --follow --tail=100 $(SERVICE)

ps: docker-engine ## List the lab's containers and their health
	$(COMPOSE) ps

build-broker: docker-engine env-file ## Rebuild and restart the broker alone
	$(COMPOSE) up --detach --no-deps --build broker

build-front-end: docker-engine env-file ## Rebuild and restart the test page alone
	$(COMPOSE) up --detach --no-deps --build front-end

build-authentication: docker-engine env-file ## Rebuild and restart the authentication service alone
	$(COMPOSE) up --detach --no-deps --build authentication

build-logger: docker-engine env-file ## Rebuild and restart the logger alone
	$(COMPOSE) up --detach --no-deps --build logger

build-mail: docker-engine env-file ## Rebuild and restart the mail service alone
	$(COMPOSE) up --detach --no-deps --build mail

build-listener: docker-engine env-file ## Rebuild and restart the listener alone
	$(COMPOSE) up --detach --no-deps --build listener

build_broker: build-broker ## Same as build-broker
build_front_end: build-front-end ## Same as build-front-end
build_authentication: build-authentication ## Same as build-authentication
build_logger: build-logger ## Same as build-logger
build_mail: build-mail ## Same as build-mail
build_listener: build-listener ## Same as build-listener
