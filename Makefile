# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv if missing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast test-reliability demo bench clean broker

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Two processes: the tests of real processes run one at a time in one, the pure ones in the other
# (tests/conftest.py groups them).
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not reliability" -n 2 --dist loadgroup

# The hostile-input and fault suite (issue 12): everything marked reliability, and the
# takeover matrix (every consuming agent's injected failure, then a restart). Three xdist
# processes, one group and one fresh broker per test (tests/conftest.py: --spread): the tests
# mostly wait on the processes they start, and none reads another test's events.
test-reliability: $(STAMP)
	BACKOFFICE_TAKEOVER_MATRIX=1 $(PY) -m pytest -q -p no:cacheprovider -m "reliability or takeover_matrix" \
		-n 3 --dist loadgroup --spread

test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not integration and not slow and not reliability"

demo: $(STAMP)
	$(PY) -m cli.main demo

bench: $(STAMP)
	@for b in $(filter-out bench/raw.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

broker: $(STAMP)
	$(PY) -m cli.main broker

clean:
	rm -rf $(VENV) build *.egg-info demo-out
