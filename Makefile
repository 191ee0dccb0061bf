# Set-up and entry points. `make test` and `make demo` both create (or reuse) .venv first.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PINS := torch==2.11.0 torchaudio==2.11.0 espnet==202511
STAMP := $(VENV)/.espnet_ddp-installed

.PHONY: install system-deps test lint demo bench clean

$(STAMP): setup.py
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q $(PINS)
	$(VPY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: system-deps $(STAMP)

system-deps:
	bash scripts/install_system_deps.sh

lint: install
	$(VPY) -m ruff check espnet_ddp tests bench

test: install
	$(VPY) -m pytest -q tests

demo: install
	cd egs2/mini_ddp/asr1 && ./run.sh

bench: install
	$(VPY) bench/speedup.py

clean:
	rm -rf $(VENV) *.egg-info
