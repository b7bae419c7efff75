"""A fast path for large JSON inputs (10^5-op traces): the C ``json`` parser instead of PyYAML.

``load_yaml`` composes a node tree in pure Python to know the line of every key, which costs
about 1 s per 100,000 lines (a 10^5-op trace: 48-150 s). Most large inputs are valid JSON that
nobody needs located, so :func:`load_json_doc` parses them with ``json`` (about 0.5 s for
15 MB) and finds a line only when one is asked for (:class:`JsonDoc`), by skipping to the key
path with the same C scanner: an error in op 99,999 is still reported with its line.

The data is exactly what ``load_yaml`` gives for the same file, or the fast path is not taken
(``None``): YAML 1.1 reads ``1e3`` and ``1.5e10`` as text (a float needs a ``.`` and a signed
exponent), so such numbers stay text here too; duplicate keys, ``NaN``/``Infinity``, a
byte-order mark, characters YAML refuses, surrogate escapes, a top level that is not a mapping
and anything that is not valid JSON go to ``load_yaml``, which reports them as it always did.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .yamlio import KeyPath, Origin, SourceDoc

#: what PyYAML's implicit float resolver accepts of a JSON number (a fraction, signed exponent)
_YAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")
#: characters PyYAML's reader refuses (yaml.reader.Reader.NON_PRINTABLE)
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD"
                            "\U00010000-\U0010ffff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _NotSame(Exception):
    """The document is valid JSON that ``load_yaml`` would read differently (or reject)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotSame("duplicate key")
    return out


def _float(text: str) -> float | str:
    return float(text) if _YAML_FLOAT.fullmatch(text) else text


def _constant(text: str) -> Any:
    raise _NotSame(text)


def load_json_doc(raw: bytes, file: str) -> "JsonDoc | None":
    """``raw`` (a file's bytes) as a :class:`JsonDoc`, or None when only ``load_yaml`` reads it
    as it should be read (see the module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff") or _NON_PRINTABLE.search(text) \
            or _SURROGATE_ESCAPE.search(text):
        return None
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_float=_float,
                          parse_constant=_constant)
    except (_NotSame, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not data:
        return None
    return JsonDoc(data=data, file=file, origins={(): (file, None)}, text=text)


class JsonDoc(SourceDoc):
    """A :class:`SourceDoc` whose lines are found on demand in the JSON ``text``: the line of
    the deepest prefix of a key path that exists (a mapping key's own line, a list item's first
    line), as ``load_yaml`` records them."""

    def __init__(self, *, data: dict, file: str, origins: dict, text: str) -> None:
        super().__init__(data=data, file=file, origins=origins)
        self.text = text

    def origin(self, path: KeyPath) -> Origin:
        pos = _locate(self.text, tuple(path))
        if pos is None:
            return (self.file, None)
        return (self.file, self.text.count("\n", 0, pos) + 1)


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _locate(text: str, path: KeyPath) -> int | None:
    """Offset of the deepest prefix of ``path`` (at least one part) found in ``text``, or None
    for the empty path. Values passed over are skipped by the C decoder, so finding the last
    of 10^5 ops costs one pass of ``json.loads`` at most."""
    pos = _skip_ws(text, 0)
    found: int | None = None
    try:
        for part in path:
            ch = text[pos]
            if ch == "{" and isinstance(part, str):
                pos = _skip_ws(text, pos + 1)
                while text[pos] != "}":
                    key_pos = pos
                    key, pos = json.decoder.scanstring(text, pos + 1)
                    pos = _skip_ws(text, pos)
                    pos = _skip_ws(text, pos + 1)  # the ':'
                    if key == part:
                        found = key_pos
                        break
                    _, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip_ws(text, pos)
                    if text[pos] == ",":
                        pos = _skip_ws(text, pos + 1)
                else:
                    return found
            elif ch == "[" and isinstance(part, int) and not isinstance(part, bool):
                pos = _skip_ws(text, pos + 1)
                for _ in range(part):
                    if text[pos] == "]":
                        return found
                    _, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip_ws(text, pos)
                    if text[pos] == ",":
                        pos = _skip_ws(text, pos + 1)
                if text[pos] == "]":
                    return found
                found = pos
            else:
                return found
    except (IndexError, ValueError):  # cannot happen on text json.loads accepted; stay robust
        return found
    return found
