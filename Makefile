# Two commands for a new user: `make demo` (the whole job on built-in sample data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: setup test demo bench bench-train quality lint clean services disk-check
# A new environment takes about 7 GB, most of it PyTorch's wheel with its CUDA libraries. A full
# disk would stop pip half-way with a bare OSError; say so before starting.
SETUP_NEEDS_GB := 7

setup: $(STAMP)

# Idempotent: reinstalls only when pyproject.toml changes. mosquitto (for the MQTT tests) and
# chromium (for the monitor's browser test) come from apt where this runs as root; elsewhere
# those tests skip and say why.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(MAKE) --no-print-directory disk-check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	@$(MAKE) --no-print-directory services
	touch $(STAMP)

# $(call apt_package,PACKAGE,PATH,WHAT SKIPS WITHOUT IT): when the command PACKAGE is not on PATH and
# the file PATH does not exist, install PACKAGE with apt-get as root; elsewhere say what will skip.
define apt_package
	@if command -v $(1) >/dev/null 2>&1 || [ -x $(2) ]; then \
	  echo "$(1): present"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null) \
	    || echo "$(1): apt-get failed; $(3) will skip"; \
	else \
	  echo "$(1): not installed and apt-get unavailable (or not root); $(3) will skip"; \
	fi
endef

disk-check:
	@free=$$(df -Pk . | awk 'NR == 2 {print int($$4 / 1048576)}'); \
	if [ "$$free" -lt $(SETUP_NEEDS_GB) ]; then \
	  echo "make setup: $$free GB free on the disk that holds $$(pwd); the environment ($(VENV)) needs about $(SETUP_NEEDS_GB) GB. Free some space and run make setup again." >&2; \
	  exit 1; \
	fi

services:
	$(call apt_package,mosquitto,/usr/sbin/mosquitto,MQTT tests)
	$(call apt_package,chromium,/usr/bin/chromium,the monitor's browser test)

test: setup
	$(BIN)/python -m pytest -q tests

demo: setup
	$(BIN)/python -m gain_mtl.demo --out $(DEMO)

bench: setup
	$(BIN)/python benchmarks/latency.py

# Images/s of a training step (Lite0 @224, EfficientNetV2-S @256 and @512; float32 against bf16,
# decoded-image cache on and off) and bf16 against float32 on the demo config, 13-18 minutes on
# 2 CPU cores (--no-quality saves about 7): benchmarks/reports/<device>/train-speed.md.
bench-train: setup
	$(BIN)/python benchmarks/train_speed.py

# S1, S5 and S6 on the Magnetic Tile dataset (../shared/datasets/magnetic-tile or --source), about
# an hour on 2 CPU cores: benchmarks/reports/quality-magnetic-tile.md.
quality: setup
	$(BIN)/python benchmarks/quality.py

lint: setup
	$(BIN)/vermin --target=3.10- --no-tips --violations edge
	$(BIN)/python -m compileall -q gain_mtl calibration edge

clean:
	rm -rf $(VENV) $(DEMO) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
