"""Compiled kernels for what XLA's CPU backend runs slowly: oneDNN's 3x3 convolution (``onednn``).

Built on first use into jaxdqn's cache folder; where they cannot be built, JAX's own operations
compute the same values.
"""
from jaxdqn.native.onednn import Backend, load

__all__ = ["Backend", "load"]
