# Two entry points (see README): `make demo` and `make test`. Both set up .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lock demo test notebooks benchmarks clean

setup: $(STAMP)

# pip itself is pinned first: the pip a new venv brings (23.2 with Python 3.11) reads a locked
# "lxml" and a dependency's "lxml[html_clean]" as two requirements, and once PyPI has a newer
# lxml than the lock's it refuses the install as unpinned.
PIP_PIN := pip==26.3 --hash=sha256:f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13

# Set-up installs the exact versions in requirements.lock (hashes checked), then the project
# itself without resolving anything: a fresh clone anywhere gets the versions the figures in
# README and the model cards were measured with. torch is locked to 2.13.0+cpu, the CPU build on
# this machine's disk; any looser request would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	echo '$(PIP_PIN)' > $(VENV)/pip.lock  # a hash can only be given in a requirements file
	$(BIN)/python -m pip install --quiet --require-hashes -r $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Refresh requirements.lock to the newest releases pyproject.toml's ranges admit (torch held at
# the CPU build), then re-run the tests and the evaluations before committing it.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools==7.7.0
	$(BIN)/pip-compile --quiet --upgrade --upgrade-package 'torch==2.13.0+cpu' \
	    --generate-hashes --allow-unsafe --extra dev --extra scale --strip-extras \
	    --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

demo: $(STAMP)
	$(BIN)/newsignal demo --output demo-out

test: $(STAMP)
	$(BIN)/python -m pytest

# Re-run the notebooks on the demo corpus and save them with their outputs (commit the result).
notebooks: $(STAMP)
	$(BIN)/python notebooks/refresh.py

benchmarks: $(STAMP)
	for bench in benchmarks/*_bench.py; do $(BIN)/python $$bench || exit 1; done

clean:
	rm -rf demo-out .pytest_cache .hypothesis
