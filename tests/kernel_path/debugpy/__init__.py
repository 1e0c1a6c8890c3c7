"""Stands in for debugpy in the processes the tests start, above all the Jupyter kernels that
nbval starts for the chapters (conftest.py puts tests/kernel_path first on their PYTHONPATH).

ipykernel imports debugpy, and through it pydevd, as every kernel starts, for a debugger that no
test attaches: about 0.1-0.2 CPU seconds per kernel, 23 kernels per run of the book. Finding no
debugpy (this ImportError), ipykernel starts the kernel without its debugger; everything else
about the kernel, and every chapter, runs as before.
"""

raise ImportError("debugpy is kept out of the test processes (tests/kernel_path/debugpy)")
