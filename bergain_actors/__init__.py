"""bergain-actors: an AI DJ built as an event-sourced actor system on trio."""

__version__ = "0.1.0"
