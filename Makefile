# The two commands of the README: `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test notebook docs slow numeric bench bench-quick fuzz lint install install-dev install-notebook clean fastai-oracle

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.lock pyproject.toml
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock requirements-notebook.lock
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $@

$(VENV)/.installed-notebook: $(VENV)/.installed requirements-notebook.lock
	$(PY) -m pip install --quiet -r requirements-notebook.lock
	touch $@

install: $(VENV)/.installed
install-notebook: $(VENV)/.installed-notebook
install-dev: $(VENV)/.installed-dev

run: install
	$(VENV)/bin/digitlab lesson
	@echo 'digitlab is installed in $(VENV): run  . $(VENV)/bin/activate  to put it on your PATH (or type $(VENV)/bin/digitlab).'

notebook: install-notebook  # the lesson as a notebook, opened in JupyterLab (the notebook extra)
	$(VENV)/bin/digitlab lesson --notebook runs/lesson.ipynb --open

test: install-dev
	$(PY) -m pytest -q

# fastai 2.8.12 in a venv of its own, outside the repository: the oracle bench/fastai_oracle.py and
# tests/benchmarks/test_fastai_oracle.py compare digitlab with (never a dependency of digitlab)
FASTAI_VENV ?= /work/fastai-venv
fastai-oracle: $(FASTAI_VENV)/.installed
$(FASTAI_VENV)/.installed:
	$(PYTHON) -m venv $(FASTAI_VENV)
	$(FASTAI_VENV)/bin/python -m pip install --quiet torch==2.13.0 fastai==2.8.12 'torchvision==0.28.*'
	touch $@

# Every figure README.md and docs/ quote, measured again into BENCHMARKS.md (whole), then the pages'
# marked blocks rendered from it: at most an hour on an idle 2-core machine (bench/run.py lists each
# section's budget). bench-quick: every section at smoke size in a few minutes, into runs/bench/.
bench: install-dev fastai-oracle
	DIGITLAB_FASTAI_PYTHON=$(FASTAI_VENV)/bin/python $(PY) -m bench

bench-quick: install-dev fastai-oracle
	DIGITLAB_FASTAI_PYTHON=$(FASTAI_VENV)/bin/python $(PY) -m bench --quick

slow: install-dev  # the long checks make test leaves out (two "machines" on 127.0.0.1, the notebook in a kernel, ...)
	$(PY) -m pytest -q -m slow

# The numeric tests again, under the kernels other CPUs use and with other seeds (CI runs this too); the
# AVX-512 run's two settings joined by a comma, as a command's output is split at spaces
NUMERIC_RUNS := "ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41" "DIGITLAB_TEST_SEED=1" "DIGITLAB_TEST_SEED=2"
numeric: install-dev
	@set -e; for run in $(NUMERIC_RUNS) \
	    $$(grep -q avx512f /proc/cpuinfo 2>/dev/null && echo "ATEN_CPU_CAPABILITY=avx512,ONEDNN_MAX_CPU_ISA=AVX512_CORE"); do \
	  echo "numeric tests with $$run"; env $$(echo "$$run" | tr , ' ') $(PY) -m pytest -q -p no:cacheprovider -m 'numeric and not slow'; done

fuzz: install-dev  # the fuzz suites with thousands of examples per input kind (about 15 minutes)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz.py tests/test_fuzz_hostile.py tests/test_fuzz_settings.py

docs: install-dev  # the API reference, from the docstrings, offline, into docs/api/ (not committed)
	$(VENV)/bin/pdoc --no-show-source -o docs/api digitlab digitlab.run.api digitlab.run.keywords digitlab.learning digitlab.data digitlab.models digitlab.inference

lint: install-dev  # ruff's rules and format, and mypy --strict on the core (data/, models/, learning/) and the Python API
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
