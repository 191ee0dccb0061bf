# Set-up and entry points. `make test` and `make demo` both create (or reuse) .venv first.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PINS := torch==2.11.0 torchaudio==2.11.0 espnet==202511
STAMP := $(VENV)/.espnet_ddp-installed

.PHONY: install system-deps test lint demo bench clean test-espnet-oldest test-espnet-newest

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

# The oldest supported ESPnet (setup.py's range) in a venv of its own: the training, resume and
# batch-sampler tests against it. Needs Debian's libsentencepiece-dev (ESPnet 202412 pins
# sentencepiece 0.1.97, which has no wheel for Python 3.11 and builds against that library).
OLDEST_ESPNET := 202412
OLDEST_VENV := .venv-espnet$(OLDEST_ESPNET)
OLDEST_TESTS := tests/plugin/test_e2e_training.py tests/plugin/test_resume_training.py \
	tests/plugin/test_resume.py tests/plugin/test_epoch_batches.py \
	tests/plugin/test_espnet_compat.py

$(OLDEST_VENV)/.espnet_ddp-installed: setup.py
	bash scripts/install_system_deps.sh libsentencepiece-dev
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q torch==2.11.0 torchaudio==2.11.0 espnet==$(OLDEST_ESPNET)
	$(OLDEST_VENV)/bin/python -m pip install -q -e '.[test]'
	touch $@

test-espnet-oldest: system-deps $(OLDEST_VENV)/.espnet_ddp-installed
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(OLDEST_TESTS)

# The newest ESPnet release (202611: Python >=3.12,<3.14) in a venv of its own, with the newest
# such Python found (python3.13, then 3.12: PATH, /usr/bin, /usr/local/bin, pyenv; or
# NEWEST_PYTHON=...): a bare espnet==202611 with torch 2.11, then this package, which must not
# change that ESPnet; then the training, resume, batch-sampler, stock-decoding and version tests.
# Where no such Python exists (Debian 12) it says so and exits 0. Not part of `make test`.
NEWEST_ESPNET := 202611
NEWEST_VENV := .venv-espnet$(NEWEST_ESPNET)
NEWEST_TESTS := $(OLDEST_TESTS) tests/plugin/test_stock_configs.py \
	tests/plugin/test_version_check.py tests/plugin/test_install_metadata.py \
	tests/plugin/test_resume_across_releases.py tests/plugin/test_decoding_margin.py

test-espnet-newest: system-deps
	NEWEST_ESPNET=$(NEWEST_ESPNET) PYTEST_ARGS='$(PYTEST_ARGS)' \
		bash scripts/test_espnet_newest.sh $(NEWEST_VENV) $(NEWEST_TESTS)

bench: install
	$(VPY) bench/speedup.py

clean:
	rm -rf $(VENV) *.egg-info
