"""Settings for every test run, whichever folder it collects (tests/, book/ or both).

Notebook kernels started by nbval inherit this environment. One BLAS thread per process keeps the
small matrix operations of the chapters fast on a 2-core machine where pytest and a kernel run
side by side: with OpenBLAS's default of a thread per core, waiting threads made some fits of the
book 10-20x slower (BernoulliMixture on the digits: 16 CPU seconds instead of 0.9).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
