# The lab's front door. Every target is one line; README.md explains each. Targets that need
# the virtualenv create it first (the file target $(VENV)), so any of them works on a fresh clone.
PY ?= .venv/bin/python
OUT ?= build
# The Pulumi stack every target drives: dev (one Docker host) or swarm (a swarm manager).
STACK ?= dev
export LAB_STACK := $(STACK)
VENV := .venv/.installed
# How many times make incident-bench runs each drill.
RUNS ?= 5
PIP := .venv/bin/pip install --disable-pip-version-check -q

.DEFAULT_GOAL := help
.PHONY: help install lint format test bench provision images preview up down kill demo traffic local status logs credentials dashboards incident incident-status incident-stop incident-bench verify clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Rebuilt when missing or older than a pin; up to date, it costs nothing.
$(VENV): requirements.txt app/requirements.txt pyproject.toml
	@command -v python3 >/dev/null || { echo "make: python3 (3.11 or newer) is needed to create .venv" >&2; exit 1; }
	python3 -m venv .venv && $(PIP) -r requirements.txt && $(PIP) --no-build-isolation -e . && touch $@

install: ## Create or refresh .venv: the pinned dependencies, then this project (editable)
	@rm -f $(VENV) && $(MAKE) --no-print-directory $(VENV)

lint: $(VENV) ## ruff format check and lint
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

format: $(VENV) ## Rewrite the code with ruff format and ruff's safe fixes
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

test: lint ## Lint, then every test (live tests need Docker; LAB_REQUIRE_DOCKER=1 makes its absence fail)
	$(PY) -m pytest

bench: $(VENV) ## Benchmark a function service, bare Tornado and Traefik with wrk
	$(PY) -m lab.bench --traefik

provision: ## Install and start what the live tests need (Docker engine, promtool, wrk; root, Debian)
	bash scripts/provision.sh

images: $(VENV) ## Build the offline stand-in images (Debian base, app, Traefik, Prometheus)
	bash scripts/build_images.sh

preview: $(VENV) ## Show what `make up` would change
	$(PY) -m lab.deploy preview

up: $(VENV) ## Bring the lab up on the local Docker daemon (pulumi up through the Automation API)
	$(PY) -m lab.deploy up

down: $(VENV) ## Tear the lab down and delete its data volumes, naming each (KEEP_DATA=1 keeps them)
	$(PY) -m lab.deploy down $(if $(filter-out 0,$(KEEP_DATA)),--keep-data)

kill: down ## Alias of down

demo: ## Bring the lab up, then send it traffic
	$(MAKE) up && $(MAKE) traffic

traffic: $(VENV) ## Call every function through Traefik and print a summary
	$(PY) -m lab.traffic

local: $(VENV) ## Run the services, Traefik and Prometheus as local processes (no Docker, no Pulumi)
	$(PY) -m lab.local

status: $(VENV) ## Health and URL of every part of the running lab
	$(PY) -m lab.status

logs: $(VENV) ## Follow the lab's container logs
	$(PY) -m lab.logs

credentials: $(VENV) ## Every login: user, where it is used, its file and key (SHOW=1 prints the passwords)
	$(PY) -m lab.credentials $(if $(filter-out 0,$(SHOW)),--show)

dashboards: $(VENV) ## Render the Grafana dashboards, rules and Kibana objects into $(OUT)/dashboards
	$(PY) -m lab.export $(OUT)/dashboards

incident: $(VENV) ## List the incident drills, or start one: make incident NAME=slow-replica
	$(PY) -m lab.incident $(if $(NAME),start $(NAME),list)

incident-status: $(VENV) ## The drill that is on, since when, and which of its alerts fired after how long
	$(PY) -m lab.incident status

incident-stop: $(VENV) ## Switch the drill off: every fault off, stopped parts started, traffic stopped
	$(PY) -m lab.incident stop

incident-bench: $(VENV) ## Time to detect: every drill the running lab supports, RUNS times (5)
	$(PY) -m lab.incident_bench --runs $(RUNS)

verify: $(VENV) ## Run the testinfra suite against the stack that `make up` brought up
	$(PY) -m pytest tests/infra --lab-target=stack

clean: ## Remove build output and caches (not the venv, not the Pulumi state)
	rm -rf $(OUT) .pytest_cache .ruff_cache .hypothesis
