"""A run's configuration: what each key may hold (:mod:`~jaxdqn.config.schema`), reading and checking
``config.toml`` (:mod:`~jaxdqn.config.reading`), writing it (:mod:`~jaxdqn.config.writing`), what a
checkpoint depends on (:mod:`~jaxdqn.config.fingerprint`), and the one path from a config to the parts a
command needs (:mod:`~jaxdqn.config.assembly`, :mod:`~jaxdqn.config.architecture`)."""
from jaxdqn.config.reading import CONFIG_NAME, RunConfig, load_config, read_toml
from jaxdqn.errors import ConfigError

__all__ = ["CONFIG_NAME", "ConfigError", "RunConfig", "load_config", "read_toml"]
