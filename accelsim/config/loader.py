"""Build a config document (``extends`` + ``-o`` overrides) and validate it with pydantic.

Everything that goes wrong ends as ONE :class:`~accelsim.errors.ConfigError` whose ``problems`` name
file, line and dotted key path, e.g. ``configs/x.yaml:12 units.sa.rows: Input should be greater
than 0, got -4``.  Origins survive ``extends`` (a parent's keys keep the parent's file and line)
and overrides (``<override -o a.b=1>``), so messages always point at where a value was written.
"""
from __future__ import annotations

import os
import re
import types
from collections import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, Union, get_args, get_origin

import pydantic
import yaml

from ..errors import ConfigError
from .files import config_file_problem
from .yamlio import KeyPath, SourceDoc, load_yaml, overlay, suggest

EXTENDS_KEY = "extends"


# --------------------------------------------------------------------------- documents

def load_document(path: str | Path, overrides: Sequence[str] = ()) -> SourceDoc:
    """Load ``path``, resolve ``extends`` recursively, then apply ``a.b.c=value`` overrides."""
    return apply_overrides(_load_with_extends(str(path), ()), overrides)


def apply_overrides(doc: SourceDoc, overrides: Sequence[str] = ()) -> SourceDoc:
    """Apply ``a.b.c=value`` overrides to ``doc`` in place (and return it)."""
    for text in overrides:
        _apply_override(doc, text)
    return doc


def load_config(model: type[pydantic.BaseModel], path: str | Path,
                overrides: Sequence[str] = ()) -> tuple[pydantic.BaseModel, SourceDoc]:
    """``load_document`` + ``validate``: the validated model and the document it came from."""
    doc = load_document(path, overrides)
    return validate(model, doc.data, doc), doc


def _load_with_extends(file: str, chain: tuple[tuple[str, str], ...]) -> SourceDoc:
    """Load ``file`` and deep-merge its ``extends`` parents under it (child wins)."""
    doc = load_yaml(file)
    if EXTENDS_KEY not in doc.data:
        return doc
    line = doc.origin((EXTENDS_KEY,))[1]

    def fail(msg: str) -> ConfigError:
        return ConfigError(msg, file=doc.file, line=line, key_path=EXTENDS_KEY)

    spec = doc.data.pop(EXTENDS_KEY)
    parents = [spec] if isinstance(spec, str) else spec
    if not isinstance(parents, list) or not all(isinstance(p, str) and p for p in parents):
        raise fail("must be a file name or a list of file names (relative to this file)")
    chain = chain + ((os.path.realpath(file), file),)
    loaded = []
    for rel in parents:
        parent_file = os.path.normpath(os.path.join(os.path.dirname(file), rel))
        if any(os.path.realpath(parent_file) == seen for seen, _ in chain):
            raise fail("extends cycle: " + " -> ".join([s for _, s in chain] + [parent_file]))
        if not os.path.exists(parent_file):
            raise fail(f"parent file not found: {parent_file}")
        problem = config_file_problem(parent_file)  # only regular .yaml/.yml/.json files
        if problem:
            raise fail(f"cannot extend {rel!r}: {problem}")
        loaded.append(_load_with_extends(parent_file, chain))
    doc.origins = {p: o for p, o in doc.origins.items() if p[:1] != (EXTENDS_KEY,)}
    return overlay(loaded, doc)


# --------------------------------------------------------------------------- overrides

def parse_override(text: str) -> tuple[tuple[str, ...], object]:
    """Split ``"a.b.c=value"`` into a key path and a value.

    A scalar value keeps its original string, so that pydantic's lax mode types it by the schema
    ("64" -> 64 for an int field, "64" for a str field); an explicitly quoted scalar (``'64'``) is
    unquoted.  Lists, mappings and null (``[1, 2]``, ``{a: 1}``, ``null`` or nothing) are parsed.
    """
    where = _override_file(text)
    key, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError("override must look like key.path=value", file=where)
    path = tuple(part.strip() for part in key.strip().split("."))
    if not key.strip() or not all(path):
        raise ConfigError("override has an empty key path (expected key.path=value)", file=where)
    raw = raw.strip()
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"override value is not valid YAML: {problem}", file=where,
                          key_path=".".join(path)) from None
    if parsed is None or isinstance(parsed, (dict, list)):
        return path, parsed
    if isinstance(parsed, str) and len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0]:
        return path, parsed
    return path, raw


def _override_file(text: str) -> str:
    return f"<override -o {text}>"


def _apply_override(doc: SourceDoc, text: str) -> None:
    """Set one override in ``doc.data`` (in place); its origin is the override text."""
    path, value = parse_override(text)
    doc.assign(path, value, (_override_file(text), None))


# --------------------------------------------------------------------------- validation

@dataclass
class _Err:
    """One pydantic error, with its loc split into a data path and union-member labels."""
    raw: dict
    path: KeyPath                                         # loc elements that index the data
    labels: list[tuple[tuple, Any, int]]                  # (raw loc site, label, data depth)


def validate(model: type[pydantic.BaseModel], data: Any, doc: SourceDoc,
             prefix: KeyPath = ()) -> pydantic.BaseModel:
    """Validate ``data`` (found at key path ``prefix`` in ``doc``) against ``model``.

    On failure raise one ConfigError; its ``problems`` hold one located ConfigError per issue.
    """
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errs = _choose_branches([_split(e, data) for e in exc.errors(include_url=False)])
        problems: list[ConfigError] = []
        seen: set[tuple] = set()
        for err in errs:
            problem = _problem(model, err, doc, tuple(prefix))
            ident = (problem.file, problem.line, problem.key_path, problem.message)
            if ident not in seen:
                seen.add(ident)
                problems.append(problem)
    if len(problems) == 1:
        p = problems[0]
        raise ConfigError(p.message, file=p.file, key_path=p.key_path, line=p.line,
                          problems=problems)
    raise ConfigError(f"{len(problems)} problems in {doc.file}", file=doc.file, problems=problems)


def _split(raw: dict, data: Any) -> _Err:
    """Separate loc elements that exist in ``data`` from union labels ('SA', "literal['x']")."""
    loc = tuple(raw["loc"])
    node, path, labels = data, [], []
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and type(part) is int and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif i == len(loc) - 1 and raw["type"] == "missing" and isinstance(node, dict):
            path.append(part)  # the missing key itself
        else:
            labels.append((loc[:i], part, len(path)))
    return _Err(raw, tuple(path), labels)


def _choose_branches(errs: list[_Err], level: int = 0) -> list[_Err]:
    """At each union, keep only the most plausible member's errors.

    pydantic reports every member of a (non-discriminated) union. Prefer the member whose errors
    reach deepest into the data (it matched the shape), then the one with fewest errors; when all
    members fail right at the union (scalars) merge them into one "x or y" error.
    """
    slots: list[Any] = []
    sites: dict[tuple, dict[Any, list[_Err]]] = {}
    for err in errs:
        if len(err.labels) <= level:
            slots.append(err)
            continue
        site, label, _ = err.labels[level]
        if site not in sites:
            sites[site] = {}
            slots.append(("site", site))
        sites[site].setdefault(label, []).append(err)
    out: list[_Err] = []
    for slot in slots:
        if isinstance(slot, _Err):
            out.append(slot)
            continue
        branches = list(sites[slot[1]].values())
        depth = {id(b): max(len(e.path) for e in b) for b in branches}
        everyone = [e for b in branches for e in b]
        at_union = everyone[0].labels[level][2]  # data depth of the union itself
        if len(branches) > 1 and all(len(e.path) == at_union and len(e.labels) == level + 1
                                     for e in everyone):
            out.append(_merge_scalar_branches(everyone))
        else:
            best = min(branches, key=lambda b: (-depth[id(b)], len(b)))
            out.extend(_choose_branches(best, level + 1))
    return out


def _merge_scalar_branches(errs: list[_Err]) -> _Err:
    msgs = list(dict.fromkeys(_clean_msg(e.raw) for e in errs))
    head = "Input should be "
    if len(msgs) > 1 and all(m.startswith(head) for m in msgs):
        alts = dict.fromkeys(m[len(head):].split(", ")[0] for m in msgs)
        msgs = [head + " or ".join(alts)]
    raw = dict(errs[0].raw, type="union_mismatch", msg=" or ".join(msgs))
    raw.pop("ctx", None)
    return _Err(raw, errs[0].path, errs[0].labels[:-1])


_MAPPING_TYPES = {"model_type", "model_attributes_type", "dict_type"}


def _clean_msg(raw: dict) -> str:
    if raw["type"] in _MAPPING_TYPES:
        return "Input should be a mapping of key: value pairs"
    msg = str(raw["msg"])
    for noise in ("Value error, ", "Assertion failed, "):
        if msg.startswith(noise):
            msg = msg[len(noise):]
    return msg


def _problem(model: type[pydantic.BaseModel], err: _Err, doc: SourceDoc,
             prefix: KeyPath) -> ConfigError:
    """Turn one pydantic error into a located, human-sized ConfigError."""
    raw, path = err.raw, err.path
    kind, ctx, value = raw["type"], raw.get("ctx") or {}, raw.get("input")
    if kind == "missing":
        msg = f"missing required key {path[-1]!r}"
    elif kind == "extra_forbidden":
        name = path[-1]
        keys = field_keys(model, tuple(raw["loc"])[:-1])
        hint = suggest(str(name), keys) if keys else ""
        if keys and not hint:
            hint = "; valid keys: " + ", ".join(repr(k) for k in sorted(keys))
        msg = f"unknown key {name!r}{hint}"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "")).strip("'\"")
        if isinstance(value, dict) and disc.isidentifier():
            path = path + (disc,)
        if kind == "union_tag_not_found":
            msg = f"missing required key {disc!r}"
        else:
            tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
            hint = suggest(str(ctx.get("tag")), tags)
            msg = (f"unknown {disc} {ctx.get('tag')!r}{hint} "
                   f"(expected one of: {', '.join(repr(t) for t in tags)})")
    else:
        msg = _clean_msg(raw)
        if not (isinstance(value, (dict, list)) and kind in ("value_error", "assertion_error")):
            msg += f", got {_show(value)}"
        if kind in ("literal_error", "enum") and isinstance(value, str):
            msg += suggest(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    full = prefix + path
    file, line = doc.origin(full)
    return ConfigError(msg, file=file or doc.file, line=line,
                       key_path=".".join(str(p) for p in full) or None)


def field_keys(model: type[pydantic.BaseModel], loc: tuple) -> set[str]:
    """Keys accepted at pydantic error location ``loc`` inside ``model`` (empty if unknown)."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return set()
    keys: set[str] = set()
    for m in _members(tp):
        if _is_model(m):
            by_name = m.model_config.get("populate_by_name") or m.model_config.get("validate_by_name")
            for name, info in m.model_fields.items():
                keys.add(info.alias or name)
                keys.update([name] if by_name else [])
    return keys


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _members(tp: Any) -> list[Any]:
    """The concrete types behind Annotated / Optional / Union."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg) if m is not type(None)]
    return [tp]


def _step(tp: Any, part: Any) -> Any:
    """The type found one loc element below ``tp`` (None if unknown)."""
    members = _members(tp)
    if len(members) > 1:  # a union member label: class name or discriminator tag value
        for m in filter(_is_model, members):
            tags = {v for f in m.model_fields.values() if get_origin(f.annotation) is Literal
                    for v in get_args(f.annotation)}
            if part == m.__name__ or part in tags:
                return m
    for m in members:
        origin, args = get_origin(m), [a for a in get_args(m) if a is not Ellipsis]
        if _is_model(m):
            for name, info in m.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        elif isinstance(part, int) and origin in (list, tuple, set, frozenset, abc.Sequence):
            return args[min(part, len(args) - 1)] if args else Any
        elif origin in (dict, abc.Mapping):
            return args[1] if args else Any
    return tp if len(members) > 1 else None  # another kind of union label: stay put


def _show(value: Any, limit: int = 60) -> str:
    """Short YAML-flavoured rendering of a bad input value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
