"""The display's command line: keystrokes in, finished lines out, with history. Pure (the terminal is read
elsewhere), so a test can type at it."""

from __future__ import annotations

UP, DOWN = "\x1b[A", "\x1b[B"
ERASE = ("\x7f", "\b")
KILL_LINE = "\x15"  # Ctrl-U


class LineEditor:
    def __init__(self, history: int = 50) -> None:
        self.text = ""
        self.history: list[str] = []
        self._limit = history
        self._browse = 0
        self._escape = ""

    def feed(self, keys: str) -> list[str]:
        """Apply ``keys``; returns the lines finished by Enter (each also goes into the history)."""
        done: list[str] = []
        for key in keys:
            if self._escape or key == "\x1b":
                self._escape += key
                if len(self._escape) >= 3 or (len(self._escape) == 2 and self._escape[1] != "["):
                    self._arrow(self._escape)
                    self._escape = ""
                continue
            if key in ("\r", "\n"):
                line, self.text = self.text.strip(), ""
                if line:
                    if not self.history or self.history[-1] != line:
                        self.history = [*self.history, line][-self._limit :]
                    done.append(line)
                self._browse = len(self.history)
            elif key in ERASE:
                self.text = self.text[:-1]
            elif key == KILL_LINE:
                self.text = ""
            elif key.isprintable():
                self.text += key
        return done

    def _arrow(self, sequence: str) -> None:
        if sequence == UP and self._browse > 0:
            self._browse -= 1
            self.text = self.history[self._browse]
        elif sequence == DOWN and self._browse < len(self.history):
            self._browse += 1
            self.text = self.history[self._browse] if self._browse < len(self.history) else ""
