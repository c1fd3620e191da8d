# Quick start: `make render` then `make test`. Both install into .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
REQS := requirements.txt requirements-dev.txt policies/requirements.txt

.PHONY: render test clean

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Render the prod stack without a cluster into rendered/prod/ and check it against the policy pack
## (in the same process: `python -m policies.check rendered/prod/manifests.yaml` gives the same answer).
render: $(STAMP)
	$(PY) -m gushen_infra.render --stack prod --out rendered/prod --check

## Run every test.
test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf rendered .pytest_cache
