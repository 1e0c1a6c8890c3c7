"""Settings for every test run, whichever folder it collects (tests/, book/ or both).

Notebook kernels started by nbval inherit this environment. One BLAS thread per process keeps the
small matrix operations of the chapters fast on a 2-core machine where pytest and a kernel run
side by side: with OpenBLAS's default of a thread per core, waiting threads made some fits of the
book 10-20x slower (BernoulliMixture on the digits: 16 CPU seconds instead of 0.9).

tests/kernel_path comes first on the path of the processes the tests start: its stand-in for
debugpy starts each kernel without the debugger no test uses (see its docstring).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
KERNEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests", "kernel_path")
if KERNEL_PATH not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [KERNEL_PATH, os.environ.get("PYTHONPATH")]))
