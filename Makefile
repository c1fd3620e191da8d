# Quick start: `make render` then `make test`. Both install into .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
REQS := requirements.txt requirements-dev.txt policies/requirements.txt
## The stack `make render` renders (Pulumi.$(STACK).yaml), checked with policies/config.$(STACK).json
## (generated from the stack file first if that is newer).
STACK ?= prod
POLICY_CONFIG ?= $(if $(wildcard Pulumi.$(STACK).yaml),policies/config.$(STACK).json)
## Every binary the live tests run, as binary:Debian package (`make deps` installs the missing ones).
DEPS := redis-server:redis-server haproxy:haproxy initdb:postgresql promtool:prometheus \
	prometheus-redis-exporter:prometheus-redis-exporter restic:restic sshd:openssh-server ssh-keygen:openssh-client \
	openssl:openssl
SUDO ?= $(if $(filter 0,$(shell id -u)),,sudo)
APT ?= apt-get

.PHONY: render policy-config test mutate mutate-shell deps policy-venv clean

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Render a stack without a cluster into rendered/$(STACK)/ and check it against the policy pack
## (in the same process: `python -m policies.check rendered/prod/manifests.yaml` gives the same answer).
render: $(STAMP) $(POLICY_CONFIG)
	$(PY) -m gushen_infra.render --stack $(STACK) --out rendered/$(STACK) --check $(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

## The policy pack's config of every stack, policies/config.<stack>.json, generated from its stack file's
## gushen:clusterNodes and gushen:nodes (the one place a node's name and capacity live): run it after
## editing them and commit the result; CI fails while a checked-in file differs.
policy-config: $(STAMP)
	$(PY) -m gushen_infra.policy_config

policies/config.%.json: Pulumi.%.yaml | $(STAMP)
	$(PY) -m gushen_infra.policy_config --stack $*
	touch $@

## Run every test.
test: $(STAMP)
	$(PY) -m pytest

## Mutation testing (docs/testing.md): mutmut over config, adoption, the workload builder, the tiers and
## the policy pack, scored into mutation-report/python.md; fails below 95 %. Not part of `make test`.
## Verdicts stay in mutants/, so the next run retests only what changed.
mutate: $(STAMP)
	$(PY) -m tests.mutate

## Hand mutants of the pod scripts (tests/mutants/*.patch), each applied in a scratch copy and run against
## the live tests that must kill it; report in mutation-report/shell.md. QUICK=1 leaves out the slow Redis ones.
mutate-shell: $(STAMP)
	$(PY) -m tests.mutate_shell $(if $(QUICK),--quick)

## Install what the live tests need: the Python packages (.venv) and, with apt-get, every missing binary
## of DEPS (sbin and PostgreSQL's versioned bin directory count as installed).
deps: $(STAMP)
	@need=""; \
	search="$$PATH:/usr/sbin:/sbin$$(for d in /usr/lib/postgresql/*/bin; do printf ':%s' "$$d"; done)"; \
	for pair in $(DEPS); do \
	  PATH="$$search" command -v "$${pair%%:*}" >/dev/null 2>&1 || need="$$need $${pair#*:}"; \
	done; \
	if [ -z "$$need" ]; then echo "deps: every binary the live tests need is installed"; exit 0; fi; \
	echo "deps: installing$$need"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT) update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq --no-install-recommends $$need

## The policy pack's own venv, policies/venv (PulumiPolicy.yaml), which `pulumi preview --policy-pack
## policies` runs it from: the pack is published alone, so it installs only policies/requirements.txt.
policy-venv: policies/venv/.installed-stamp

policies/venv/.installed-stamp: policies/requirements.txt
	test -x policies/venv/bin/python || $(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install --quiet -r policies/requirements.txt
	touch $@

clean:
	rm -rf rendered .pytest_cache mutation-report
