"""The one exception type that user input may raise.

Every problem with a scenario, sweep, CNN declaration or SSIM table is reported
as an :class:`InputError` naming the file, the field path inside it and what was
expected. The command line prints ``error: <message>`` and exits with status 2;
library users can catch it.
"""

from __future__ import annotations


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, carriage returns, escapes) written as ``\\n``, ``\\x1b``...

    A message quotes user input (field names, values), which may hold them; the
    command line promises one line per error.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class InputError(Exception):
    """Bad user input: ``file``, dotted ``field`` path and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        return one_line(f"{where}: {self.detail}" if where else self.detail)

    def located(self, *, file: str | None = None, field_prefix: str | None = None) -> InputError:
        """Return a copy with a file name and/or a field-path prefix filled in."""
        field = self.field
        if field_prefix:
            field = f"{field_prefix}.{field}" if field else field_prefix
        return InputError(self.detail, file=self.file or file, field=field)
