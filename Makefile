# Two commands from a fresh clone:  make run   |   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench bench-avx2 clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Install, build the index of corpus/ if there is none, and serve the chat page and API.
run: install
	$(BIN)/assistant serve

## Install (Chromium included, for the browser tests) and run the test suite.
test: install lint
	bash scripts/install-chromium.sh
	$(BIN)/python -m pytest

lint: install
	# ruff, mypy and the import layers (pyproject.toml): fast, and part of `make test`
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy src bench scripts
	$(BIN)/lint-imports

## What users see of the speed (several minutes; needs `wrk`): table on screen and in
## docs/performance.md, JSON in artifacts/http_load.json. `bench/run.py` measures the parts.
bench: install
	$(BIN)/python bench/http_load.py

## The same as on a CPU with AVX2 alone (OpenVINO limited to AVX2, fp32): its own table.
bench-avx2: install
	$(BIN)/python bench/http_load.py --isa avx2

clean:
	rm -rf $(VENV) index
