# Two entry points (see README): `make demo` and `make test`. Both set up .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test benchmarks clean

setup: $(STAMP)

# torch comes first and pinned: 2.13.0 is a CPU build on this machine's disk; any looser request
# would pull a multi-GB CUDA build. The project's own range (torch>=2.2) then installs nothing more.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsignal demo --output demo-out

test: $(STAMP)
	$(BIN)/python -m pytest

benchmarks: $(STAMP)
	for bench in benchmarks/*_bench.py; do $(BIN)/python $$bench || exit 1; done

clean:
	rm -rf demo-out .pytest_cache .hypothesis
