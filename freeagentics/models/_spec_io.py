"""Reading model specifications from files: JSON, TOML, or the GMN text form.

Syntax errors carry the parser's line number (``SpecError.path == "line 7"``);
errors in the content carry the specification path, prefixed by the file name.
"""

from __future__ import annotations

import json
import re
import tomllib
from os import PathLike
from pathlib import Path
from typing import Any

from freeagentics.errors import SpecError
from freeagentics.models._gmn_compile import compile_gmn
from freeagentics.models._model import GenerativeModel
from freeagentics.models._spec import compile_spec

__all__ = ["load_spec", "read_spec"]

_SUFFIXES = (".json", ".toml", ".gmn")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_spec(path: str | PathLike[str]) -> dict[str, Any]:
    """The specification mapping stored in a ``.json`` or ``.toml`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise SpecError(
            f"{path.name}: expected a .json or .toml file, got {suffix or 'no suffix'!r}"
        )
    text = _read_text(path)
    if suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"{path.name}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}",
                path=f"line {exc.lineno}",
            ) from exc
        except _DuplicateKey as exc:
            raise SpecError(f"{path.name}: malformed JSON: {exc}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = _TOML_POSITION.search(str(exc))
            # tomllib says "at end of document" rather than giving the last line
            number = match.group(1) if match else max(1, len(text.splitlines()))
            raise SpecError(
                f"{path.name}: line {number}: malformed TOML: {exc}", path=f"line {number}"
            ) from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the file must hold a mapping, got {type(data).__name__}")
    return data


def load_spec(path: str | PathLike[str]) -> GenerativeModel:
    """Compile the model specified in a ``.json``, ``.toml`` or ``.gmn`` file.

    A JSON file holding ``nodes`` and ``edges`` is GMN's JSON form; any other is a named spec.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise SpecError(
            f"{path.name}: unknown specification format {suffix or 'no suffix'!r}; "
            f"expected one of {', '.join(_SUFFIXES)}"
        )
    if suffix == ".gmn":
        text = _read_text(path)
        try:
            return compile_gmn(text)
        except SpecError as exc:
            raise SpecError(f"{path.name}: {exc}", path=exc.path) from exc
    data = read_spec(path)
    try:
        if suffix == ".json" and "nodes" in data and "edges" in data:
            return compile_gmn(data)
        return compile_spec(data)
    except SpecError as exc:
        raise SpecError(f"{path.name}: {exc}", path=exc.path) from exc


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path.name}: cannot read the file: {exc}") from exc


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; a duplicate is almost always a typo
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"duplicated key {key!r} in an object")
        out[key] = value
    return out
