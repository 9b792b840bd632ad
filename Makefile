# cgrad: the two commands that matter are `make test` and `make demo`.
# Both do their own set-up: a virtualenv in .venv, then the package built
# from source (the compiled kernels included) with its extras.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: test test-quick demo build venv lint lint-src lint-api bench bench-quick sanitize clean \
        check-install

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" "Cython>=3" "numpy>=2" wheel
	touch $@

venv: $(VENV)/.created

# Editable install without build isolation: the extension is compiled from
# csrc/ and the .pyx in place, against the venv's numpy. The test and examples
# extras come with it, so the example scripts are tested too. It reruns only
# when a compiled source or the build configuration changed (Python edits
# take effect without it: the install is editable).
BUILD_INPUTS := setup.py pyproject.toml $(wildcard csrc/*.c csrc/*.h src/cgrad/*.pyx \
                src/cgrad/*.pxd src/cgrad/pxi/*.pxi)
$(VENV)/.built: $(VENV)/.created $(BUILD_INPUTS)
	$(PY) -m pip install -q --no-build-isolation -e ".[test,examples]"
	touch $@

build: $(VENV)/.built

# The tests, then the benchmark files run once each as plain tests (nothing
# is timed) so the suite keeps working.
test: build
	$(PY) -m pytest -q
	$(PY) -m pytest -q bench --benchmark-disable -p no:cacheprovider

# The inner development loop: every test file, less those marked slow (the
# float32 ulp sweeps, the 100,000-op chains, the second OpenMP-free build, the
# SIGKILL loop, ...). `make test` (and CI) still runs them all.
test-quick: build
	$(PY) -m pytest -q -m "not slow"

# The static checks (CI runs them first): lint-src is cheap and fails fast;
# lint-api needs the build, which the tests use next anyway.
lint: lint-src lint-api

# ruff (lint rules and formatting) over every Python file, cython-lint over
# the .pyx, .pxd and .pxi. The two tools are pinned (the `lint` extra in
# pyproject.toml) and installed on their own: no compiled build needed.
# cython-lint runs pycodestyle as a command, so the venv's bin goes on PATH.
LINT_TOOLS := "ruff==0.17.6" "cython-lint==0.22.1"
lint-src: venv
	$(PY) -m pip install -q $(LINT_TOOLS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint src/cgrad

# The op reference in docs/api.md matches the op table (regenerate it with
# `python tools/gen_api.py`). gen_api imports cgrad, hence the build.
lint-api: build
	$(PY) tools/gen_api.py --check

demo: build
	$(PY) examples/train_digits.py

# The benchmark suite (bench/): one table of same-run ratios, raw figures in
# bench/results/. OPENBLAS_* overrides set on some machines force an old
# OpenBLAS kernel, so they are unset for the benchmark commands only.
bench: build
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench

bench-quick: build
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench --quick

# The whole test suite against an AddressSanitizer + UBSan build of the
# kernels, made in a scratch copy so the normal build is left alone.
SAN_DIR ?= build/sanitize
sanitize: build
	rm -rf $(SAN_DIR) && mkdir -p $(SAN_DIR)
	cp -r setup.py pyproject.toml README.md csrc src tests examples docs tools $(SAN_DIR)/
	cd $(SAN_DIR) && CGRAD_SANITIZE=1 $(abspath $(PY)) setup.py -q build_ext --inplace
	cd $(SAN_DIR) && LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  CGRAD_TEST_SWEEP_STEP=9973 \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  PYTHONPATH=src $(abspath $(PY)) -m pytest -q -p no:cacheprovider tests --deselect tests/test_build.py

# The package as a user gets it: a normal (not editable) `pip install .`, with
# build isolation, into a scratch venv; then .ci/check_install.py, run by that
# venv's Python in isolated mode from an empty directory, imports it, runs a
# backward pass, and checks that every module comes from the scratch venv's
# site-packages (an editable install hides a subpackage or data file left out
# of the wheel). What earlier builds left behind goes first (setuptools'
# build/lib.*, build/temp.*, build/bdist.*, and src/*.egg-info, whose stale
# SOURCES.txt would put a dropped subpackage back into the wheel).
CHECK_DIR ?= build/install-check
check-install:
	rm -rf $(CHECK_DIR) build/lib.* build/temp.* build/bdist.* src/*.egg-info
	mkdir -p $(CHECK_DIR)/run
	$(PYTHON) -m venv $(CHECK_DIR)/venv
	$(CHECK_DIR)/venv/bin/python -m pip install -q --upgrade pip
	$(CHECK_DIR)/venv/bin/python -m pip install -q .
	cd $(CHECK_DIR)/run && $(abspath $(CHECK_DIR))/venv/bin/python -I $(abspath .ci/check_install.py)

clean:
	rm -rf build src/*.egg-info src/cgrad/_ckernels.c src/cgrad/_tape.c src/cgrad/*.so $(VENV)/.built
