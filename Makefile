# One venv for everything; `make test` on a fresh clone installs it all itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-unit run eval fit bench lint

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first: the CPU build on this machine's disk; letting a resolver pick it downloads gigabytes.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/contract

run: $(STAMP)
	$(VENV)/bin/chainmatch up --demo $(ARGS)

eval: $(STAMP)
	$(PY) -m benchmarks.evaluate $(ARGS)

# Learns from the dev split only: the label models beside the code, then the pair weights to paste
# into matcher/scoring.py.
fit: $(STAMP)
	$(PY) -m benchmarks.fit_labels
	$(PY) -m benchmarks.fit_scoring

bench: $(STAMP)
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.ingest
	$(PY) -m benchmarks.api_latency
	$(PY) -m benchmarks.state_size

lint: $(STAMP)
	$(VENV)/bin/ruff check .
