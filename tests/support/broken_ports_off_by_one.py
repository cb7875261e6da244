"""A module whose JAX_GAME is the off-by-one nav port (for the check-port command's test)."""
from tests.support import broken_ports

JAX_GAME = broken_ports.OFF_BY_ONE
