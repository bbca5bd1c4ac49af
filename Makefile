# The two commands of the README: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test
STAMP  := $(VENV)/.installed-$(EXTRAS)

.PHONY: test demo demo-seed lint typecheck pytest pytest-compiled install clean bench compiled pure

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check bridge middleware cms_adapters tests benchmarks examples
	$(BIN)/ruff format --check bridge middleware cms_adapters tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gate's hot path (HOT_MODULES in setup.py) compiled with mypyc, from the same sources, for
# about a third less overhead per request: `make compiled` builds it in place, `make pure` goes
# back to plain Python.
COMPILED := $(foreach p,bridge middleware cms_adapters,$(p)/*.cpython-*.so) *__mypyc.cpython-*.so

compiled: $(STAMP)
	mkdir -p build
	BRIDGE_COMPILE=1 $(BIN)/python setup.py -q build_ext --inplace > build/mypyc.log 2>&1 \
		|| (cat build/mypyc.log; exit 1)

pure:
	rm -f $(COMPILED)

# The suite again with the hot path compiled (mypyc also checks annotations at run time); the tree
# goes back to pure Python whatever the outcome.
pytest-compiled: $(STAMP)
	$(MAKE) compiled
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); status=$$?; \
		$(MAKE) pure; exit $$status

# pytest exits 5 when it collected no test: make stops on it, so "no tests ran" is never green.
test: lint typecheck pytest pytest-compiled

# The demo needs only the flask-login extra; its own stamp, so it never reinstalls the test extras.
DEMO_STAMP := $(VENV)/.installed-demo
DEMO_INSTANCE := examples/demo_site/instance

$(DEMO_STAMP): $(BIN)/python setup.py pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[flask-login]"
	touch $@

# A fresh instance every time: reset, seed, serve on http://127.0.0.1:8000 (Ctrl-C to stop).
demo: $(DEMO_STAMP)
	$(BIN)/python -m examples.demo_site --reset

# Only (re)create and seed the instance, e.g. to serve it with another WSGI server.
demo-seed: $(DEMO_STAMP)
	rm -rf $(DEMO_INSTANCE)
	$(BIN)/python -m examples.demo_site.seed

# What the gate costs per request, against a bare Flask app in the same run; bulk sync speed.
bench: $(STAMP)
	$(BIN)/python benchmarks/gate.py
	$(BIN)/python benchmarks/sync.py

clean: pure
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
