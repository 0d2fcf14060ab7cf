"""The one exception the converter raises for bad inputs."""


class ConversionError(Exception):
    """A model or asset file cannot be converted; the message says which and why."""
