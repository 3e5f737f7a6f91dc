# petvoi: two commands do everything.
#   make demo   set up .venv, generate the synthetic sample cohort if missing, run the workflow on it (2 cores)
#   make test   set up .venv and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test bench setup system-deps clean-results unlock

demo: setup
	$(BIN)/snakemake --snakefile Snakefile --configfile configs/config.yaml --cores $(CORES) \
		--workflow-profile configs/profiles/local
	@echo ""
	@echo "petvoi demo finished. Results are under $$(pwd)/results/"
	@echo "Reports:"
	@ls -1 $$(pwd)/results/reports/*.pdf $$(pwd)/results/reports/*.html

# After a crash or kill -9 of `make demo`: remove Snakemake's stale lock (no other run may use this folder).
unlock: setup
	$(BIN)/snakemake --snakefile Snakefile --configfile configs/config.yaml --unlock

test: setup
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Benchmarks (not timed tests): each script prints its ratios against the reference tools.
bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_suv_decode.py
	$(BIN)/python bench/bench_stats_validity.py --trials 1000
	$(BIN)/python bench/bench_rtstruct.py
	$(BIN)/python bench/bench_suvpeak.py
	$(BIN)/python bench/bench_texture.py
	$(BIN)/python bench/bench_kinetics.py
	$(BIN)/python bench/bench_startup.py

setup: $(STAMP)

# Debian packages: WeasyPrint's Pango libraries and fonts (reports), dicom3tools (DICOM validation in tests),
# poppler-utils (PDF text in tests). Installed when root and apt-get are available; otherwise a clear message.
system-deps:
	@bash tools/system-deps.sh

$(STAMP): pyproject.toml | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,slurm]"
	@touch $(STAMP)

clean-results:
	rm -rf results .snakemake
