# cgrad: the two commands that matter are `make test` and `make demo`.
# Both do their own set-up: a virtualenv in .venv, then the package built
# from source (the compiled kernels included) with its extras.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: test demo build venv clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" "Cython>=3" "numpy>=2" wheel
	touch $@

venv: $(VENV)/.created

# Editable install without build isolation: the extension is compiled from
# csrc/ and the .pyx in place, against the venv's numpy.
build: $(VENV)/.created
	$(PY) -m pip install -q --no-build-isolation -e ".[test]"

test: build
	$(PY) -m pytest -q

demo: build
	$(PY) examples/seed000_skip_connection.py

clean:
	rm -rf build src/*.egg-info src/cgrad/_ckernels.c src/cgrad/*.so
