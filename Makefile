# The lab's front door. Every target is one line; README.md explains each.
PY ?= .venv/bin/python
OUT ?= build

.DEFAULT_GOAL := help
.PHONY: help install lint format test bench provision images preview up down kill demo traffic local status logs credentials dashboards verify clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: ## Create .venv with the pinned dependencies
	python3 -m venv .venv && .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt

lint: ## ruff format check and lint
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

format: ## Rewrite the code with ruff format and ruff's safe fixes
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

test: lint ## Lint, then every test (live tests need Docker; LAB_REQUIRE_DOCKER=1 makes its absence fail)
	$(PY) -m pytest

bench: ## Benchmark a function service, bare Tornado and Traefik with wrk
	$(PY) -m scripts.bench --traefik

provision: ## Install and start what the live tests need (Docker engine, promtool, wrk; root, Debian)
	bash scripts/provision.sh

images: ## Build the offline stand-in images (Debian base, app, Traefik, Prometheus)
	bash scripts/build_images.sh

preview: ## Show what `make up` would change
	$(PY) -m scripts.lab preview

up: ## Bring the lab up on the local Docker daemon (pulumi up through the Automation API)
	$(PY) -m scripts.lab up

down: ## Tear the lab down (pulumi destroy)
	$(PY) -m scripts.lab down

kill: down ## Alias of down

demo: ## Bring the lab up, then send it traffic
	$(MAKE) up && $(MAKE) traffic

traffic: ## Call every function through Traefik and print a summary
	$(PY) -m scripts.traffic

local: ## Run the services, Traefik and Prometheus as local processes (no Docker, no Pulumi)
	$(PY) -m scripts.local

status: ## Health and URL of every part of the running lab
	$(PY) -m scripts.status

logs: ## Follow the lab's container logs
	$(PY) -m scripts.status logs

credentials: ## Where each login comes from
	$(PY) -m scripts.status credentials

dashboards: ## Render the Grafana dashboards, rules and Kibana objects into $(OUT)/dashboards
	$(PY) -m dashboards.render $(OUT)/dashboards

verify: ## Run the testinfra suite against the stack that `make up` brought up
	$(PY) -m pytest tests/infra --lab-target=stack

clean: ## Remove build output and caches (not the venv, not the Pulumi state)
	rm -rf $(OUT) .pytest_cache .ruff_cache .hypothesis
