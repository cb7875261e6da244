"""A module whose JAX_GAME is the off-by-one nav port (for the check-port command's test)."""
from tests.support.broken_ports import OFF_BY_ONE as JAX_GAME  # noqa: F401
