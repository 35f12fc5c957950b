# Every target creates (or reuses) a local .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rmqwire-installed

.PHONY: demo test bench corpus typecheck clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m rmqwire demo

# The interop group needs two real clients (PyPI rocketmq==0.4.4 in its own
# venv, npm ali-ons); setup.sh installs them where the platform allows and
# otherwise records why, and those tests then skip with that reason.
test: $(STAMP)
	bash tests/interop/setup.sh
	$(PY) -m pytest --benchmark-disable

# The optional orjson is what the public JSON path uses when installed; the
# table still shows the stdlib-only path next to it.  Ratios are taken against
# benches/reference.py in the same run (see benches/RESULTS.md).
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	-$(PY) -m pip install --quiet orjson
	mkdir -p bench-results
	$(PY) -m pytest benches --benchmark-only --benchmark-warmup=on --benchmark-min-rounds=20 \
		--benchmark-json=bench-results/benchmarks.json -p no:randomly -p no:cacheprovider
	$(PY) benches/report.py bench-results/benchmarks.json --markdown bench-results/RESULTS.md

corpus: $(STAMP)
	$(PY) specs/build_corpus.py

# mypy cannot follow pyproject's package-dir mapping, so it checks a tree of
# symbolic links laid out as the wheel installs it (client/ -> rmqwire/,
# codec/ -> rmqwire/codec/).
typecheck: $(STAMP)
	$(PY) -m pip install --quiet mypy
	rm -rf build/typecheck && mkdir -p build/typecheck/rmqwire
	for f in client/*; do ln -s "$$PWD/$$f" build/typecheck/rmqwire/; done
	ln -s "$$PWD/codec" build/typecheck/rmqwire/codec
	cd build/typecheck && ../../$(PY) -m mypy --config-file ../../pyproject.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .benchmarks bench-results
