# Every target creates the virtual environments it needs from the pinned lock files.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

# The Lambda runtime is python3.13; the dev environment must match it. Found on PATH or in pyenv.
PYTHON := $(or $(PYTHON_OVERRIDE),$(shell for c in "$$(command -v python3.13 2>/dev/null)" \
	"$$(v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | tail -1); \
	    [ -n "$$v" ] && PYENV_VERSION=$$v pyenv which python 2>/dev/null)" \
	$$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	  [ -n "$$c" ] && "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && \
	  { echo "$$c"; break; }; done))
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
# Lint tools with dependencies of their own, each in its own environment from its own lock file.
CHECKOV_VENV := .venv-checkov
ACTIONLINT_VENV := .venv-actionlint
ACTIONLINT := $(ACTIONLINT_VENV)/bin/actionlint
# `sam build` without a container needs python3.13 on PATH: the dev venv provides it.
SAM_ENV := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: help python-check venv run up api test unit pytest lint format build deploy bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

python-check:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python 3.13 is required (the Lambda runtime is python3.13) but was not found."; \
	  echo "       Install it (e.g. 'pyenv install 3.13') or run make with PYTHON_OVERRIDE=/path/to/python3.13."; \
	  exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' || \
	  { echo "error: $(PYTHON) is not Python 3.13 (the Lambda runtime is python3.13)."; exit 1; }

$(VENV)/.installed: pyproject.toml requirements/dev.lock | python-check
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . || \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# pyproject declares execution_core (layers/common), execctl and local_runtime: the editable install makes
	@# them importable from anywhere. Venvs made before that carry a .pth file that would hide a gap: remove it.
	$(BIN)/python -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "execution-layer.pth").unlink(missing_ok=True)'
	cd / && $(abspath $(BIN))/python -c 'import execution_core, execctl, local_runtime'
	@touch $@

$(SAM_VENV)/.installed: requirements/sam.lock | python-check
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/sam.lock
	@touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.lock | python-check
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.lock
	@touch $@

# A prebuilt binary in a wheel, so the lock pins it by hash.
$(ACTIONLINT_VENV)/.installed: requirements/actionlint.lock | python-check
	@test -x $(ACTIONLINT_VENV)/bin/python || $(PYTHON) -m venv $(ACTIONLINT_VENV)
	$(ACTIONLINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
	  -r requirements/actionlint.lock
	@touch $@

venv: $(VENV)/.installed ## create the dev environment (pinned)

run: $(VENV)/.installed ## the main job: sample intents through the real state machine, locally
	$(BIN)/exec-local run

up: $(VENV)/.installed ## start the local runtime and keep it running
	$(BIN)/exec-local up --serve

api: $(VENV)/.installed ## serve the status API and the operator console (/console/) locally (Cognito check): make api [PORT=8080] [ORIGIN=http://localhost:5173,...]
	$(BIN)/exec-local api --demo $(if $(PORT),--port "$(PORT)") $(if $(ORIGIN),--allowed-origin "$(ORIGIN)")

test: lint pytest ## everything CI runs: lint, template checks, all tests

unit: $(VENV)/.installed ## the pure tier in seconds: tests/unit (its conftest refuses the emulator, sockets, AWS calls)
	$(BIN)/pytest tests/unit -q

pytest: $(VENV)/.installed ## all tests, two workers (one test file per worker), with the branch coverage gate (pyproject's [tool.coverage])
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term --durations=15

lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(ACTIONLINT_VENV)/.installed ## ruff, mypy, dead code (vulture), cfn-lint, sam validate, checkov, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tools.dead_code
	$(BIN)/cfn-lint template.yaml deploy/github-oidc-role.yaml
	$(SAM_ENV) $(SAM) validate --lint
	$(BIN)/python -m tools.checkov_gate --checkov $(CHECKOV_VENV)/bin/checkov
	$(ACTIONLINT)

invoke: $(VENV)/.installed ## run one function with an event: make invoke FN=<LogicalId> EVENT=events/<file>.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	$(BIN)/exec-local invoke "$(FN)" "$(EVENT)"

bench: $(VENV)/.installed ## print cost figures: per execution, status API latency, cold init vs boto3
	$(BIN)/python -m tests.benchmarks.bench_pipeline
	$(BIN)/python -m tests.benchmarks.bench_status_api
	$(BIN)/python -m tests.benchmarks.bench_cold_init

format: $(VENV)/.installed ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build, without a container
	$(SAM_ENV) $(SAM) build

deploy: $(SAM_VENV)/.installed ## deploy the built stack, no prompts (CI): make deploy CONFIG_ENV=default|staging|prod [CFN_ROLE_ARN=...]
	@test -n "$(CONFIG_ENV)" || { echo "usage: make deploy CONFIG_ENV=default|staging|prod [CFN_ROLE_ARN=arn]"; exit 2; }
	@test -f .aws-sam/build/template.yaml || { echo "error: no .aws-sam/build/template.yaml: run make build"; exit 2; }
	$(SAM) deploy --config-env "$(CONFIG_ENV)" --no-confirm-changeset --no-fail-on-empty-changeset \
	  $(if $(CFN_ROLE_ARN),--role-arn "$(CFN_ROLE_ARN)")

clean: ## remove environments and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(ACTIONLINT_VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache .local-runtime
