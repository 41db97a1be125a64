"""Live control of a set: one command language (``commands``), one way in (``Desk``), several front ends."""

from bergain_actors.control.commands import HELP, Help, parse
from bergain_actors.control.desk import Answer, Desk, answer

__all__ = ["HELP", "Answer", "Desk", "Help", "answer", "parse"]
