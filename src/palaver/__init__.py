"""palaver: a chat server and its clients."""

__version__ = "0.1.0"
