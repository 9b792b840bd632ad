"""Build cgrad's compiled kernels: one extension, cgrad._ckernels, made from
src/cgrad/_ckernels.pyx (which includes src/cgrad/pxi/*.pxi) and csrc/*.c.
Metadata lives in pyproject.toml.

Flags: -O3 -std=c99, never fast-math and no host-specific -march (SIMD code is
selected at run time, see csrc/cpu.c). -fno-math-errno only stops libm
calls from setting errno, which nothing reads; it changes no result.
OpenMP is used when the compiler accepts -fopenmp (checked by compiling and
linking a tiny program).

Environment:
  CGRAD_NO_OPENMP=1   build without OpenMP (kernels run serially)
  CGRAD_SANITIZE=1    add -fsanitize=address,undefined (compile and link)
"""

# SPDX-License-Identifier: MIT
import glob
import os
import shutil
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"

OMP_TEST = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
}
"""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _compiles(compiler, code, flags):
    """Whether `code` compiles and links with `flags`."""
    tmp = tempfile.mkdtemp(prefix="cgrad-check-")
    try:
        src = os.path.join(tmp, "check.c")
        with open(src, "w") as f:
            f.write(code)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objs, os.path.join(tmp, "check"), extra_postargs=flags)
        return True
    except Exception:  # any compiler or linker failure means "no"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """Adds OpenMP and sanitizer flags after probing the real compiler."""

    def build_extensions(self):
        use_omp = False
        if _env_flag("CGRAD_NO_OPENMP"):
            print("cgrad: building without OpenMP (CGRAD_NO_OPENMP=1)", file=sys.stderr)
        elif _compiles(self.compiler, OMP_TEST, ["-fopenmp"]):
            use_omp = True
            print("cgrad: building with OpenMP", file=sys.stderr)
        else:
            print(
                "cgrad: the compiler does not accept -fopenmp; building without OpenMP",
                file=sys.stderr,
            )
        sanitize = _env_flag("CGRAD_SANITIZE")
        for ext in self.extensions:
            if use_omp and ext.name == "cgrad._ckernels":
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
            else:
                ext.extra_compile_args.append("-Wno-unknown-pragmas")
            if sanitize:
                san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
                ext.extra_compile_args.extend(san)
                ext.extra_link_args.extend(san)
                print("cgrad: sanitizer build (ASan + UBSan)", file=sys.stderr)
        super().build_extensions()


ext = Extension(
    "cgrad._ckernels",
    sources=["src/cgrad/_ckernels.pyx"] + sorted(glob.glob(os.path.join(CSRC, "*.c"))),
    include_dirs=[CSRC, np.get_include()],
    depends=sorted(glob.glob(os.path.join(CSRC, "*.h")))
    + ["src/cgrad/_ckernels.pxd"]
    + sorted(glob.glob("src/cgrad/pxi/ck_*.pxi")),
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=["-O3", "-std=c99", "-fno-math-errno"],
    extra_link_args=[],
)

# The compiled tape (Tensor fields, tape entries, apply, the backward engine):
# Cython over the CPython and NumPy C APIs; it calls kernels through _bk.K.
tape = Extension(
    "cgrad._tape",
    sources=["src/cgrad/_tape.pyx"],
    depends=sorted(glob.glob("src/cgrad/pxi/tape_*.pxi"))
    + ["src/cgrad/_ckernels.pxd", os.path.join(CSRC, "cgrad.h")],
    include_dirs=[CSRC, np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=["-O2"],
)

setup(
    ext_modules=cythonize(
        [ext, tape],
        compiler_directives={"language_level": 3},
        include_path=["src"],
    ),
    cmdclass={"build_ext": BuildExt},
)
