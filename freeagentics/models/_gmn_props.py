"""The ``{key: value, ...}`` properties of a GMN node: JSON, or a relaxed form of it.

Relaxed means: keys and string values may go unquoted when they are plain words
(``{states: [left, right], kind: identity}``), strings may use single quotes, and a
trailing comma is allowed. ``true``/``false``/``null`` and numbers keep their JSON
meaning. A ``#`` outside a string starts a comment that runs to the end of its line.
Properties may span several lines (the caller joins them with newlines while a
bracket is still open); a string may not.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_NESTING", "PropsSyntaxError", "parse_props"]

#: brackets open at once; deeper text is refused (the reader recurses once per bracket)
MAX_NESTING = 32

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DOUBLE = re.compile(r'"(?:[^"\\]|\\.)*"')
_SINGLE = re.compile(r"'(?:[^'\\]|\\.)*'")
_KEYWORDS = {"true": True, "false": False, "null": None}


class PropsSyntaxError(ValueError):
    """Malformed properties at offset ``pos`` of the text.

    ``incomplete`` means the text ended inside a bracket: more lines may complete it.
    """

    def __init__(self, message: str, pos: int, *, incomplete: bool = False):
        super().__init__(message)
        self.pos = pos
        self.incomplete = incomplete


class _Reader:
    def __init__(self, text: str, pos: int):
        self.text = text
        self.pos = pos
        self.depth = 0

    def enter(self, char: str) -> None:
        """Open a bracket: ``expect(char)``, refusing more than :data:`MAX_NESTING` open."""
        if self.depth >= MAX_NESTING:
            raise PropsSyntaxError(
                f"brackets nested more than {MAX_NESTING} deep", self.pos, incomplete=False
            )
        self.expect(char)
        self.depth += 1

    def error(self, message: str, *, incomplete: bool = False) -> PropsSyntaxError:
        incomplete = incomplete or self.peek() == ""  # ran out of text: more lines may help
        return PropsSyntaxError(message, self.pos, incomplete=incomplete)

    def skip_space(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text[self.pos] in " \t\r\n":
                self.pos += 1
            else:
                break

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end of the line"
            raise self.error(f"expected {char!r}, found {found}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char and char in "\"'":
            return self.string()
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            text = number.group()
            return float(text) if any(c in text for c in ".eE") else int(text)
        word = _WORD.match(self.text, self.pos)
        if word:
            self.pos = word.end()
            return _KEYWORDS.get(word.group(), word.group())
        found = repr(char) if char else "the end of the line"
        raise self.error(f"expected a value, found {found}")

    def string(self) -> str:
        pattern = _DOUBLE if self.text[self.pos] == '"' else _SINGLE
        match = pattern.match(self.text, self.pos)
        if not match:
            raise self.error("unterminated string")
        self.pos = match.end()
        if pattern is _DOUBLE:
            return json.loads(match.group())
        return re.sub(r"\\(.)", r"\1", match.group()[1:-1])

    def key(self) -> str:
        if self.peek() and self.peek() in "\"'":
            return self.string()
        word = _WORD.match(self.text, self.pos)
        if not word:
            found = repr(self.peek()) if self.peek() else "the end of the line"
            raise self.error(f"expected a key, found {found}")
        self.pos = word.end()
        return word.group()

    def object(self) -> dict[str, Any]:
        start = self.pos
        self.enter("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            key_pos = self.pos
            key = self.key()
            if key in out:
                self.pos = key_pos
                raise self.error(f"duplicated key {key!r}")
            self.expect(":")
            out[key] = self.value()
            if self.peek() != ",":
                break
            self.pos += 1
        if self.peek() != "}":
            if not self.peek():
                self.pos = start
                raise self.error("this '{' is never closed", incomplete=True)
            raise self.error(f"expected ',' or '}}', found {self.peek()!r}")
        self.pos += 1
        self.depth -= 1
        return out

    def array(self) -> list[Any]:
        start = self.pos
        self.enter("[")
        out: list[Any] = []
        while self.peek() != "]":
            out.append(self.value())
            if self.peek() != ",":
                break
            self.pos += 1
        if self.peek() != "]":
            if not self.peek():
                self.pos = start
                raise self.error("this '[' is never closed", incomplete=True)
            raise self.error(f"expected ',' or ']', found {self.peek()!r}")
        self.pos += 1
        self.depth -= 1
        return out


def parse_props(text: str, pos: int = 0) -> dict[str, Any]:
    """Parse the properties object starting at ``text[pos]``; only comments may follow."""
    reader = _Reader(text, pos)
    props = reader.object()
    rest = reader.peek()
    if rest:
        raise reader.error(f"unexpected {rest!r} after the properties")
    return props
