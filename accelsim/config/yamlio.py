"""YAML reading that remembers where every key came from.

``load_yaml`` returns a :class:`SourceDoc`: the plain data ``yaml.safe_load`` would give, plus the
(file, line) of every mapping key and sequence item, so that later validation errors can point at
``file:line key.path``.  Every problem with the file itself (missing, bad syntax, duplicate keys,
top level not a mapping) becomes a :class:`~accelsim.errors.ConfigError`, never a traceback.

Lines come from the composed node tree (``node.start_mark.line + 1``), so they are right for block
and flow style alike.  Anchors/aliases and ``<<`` merge keys work; the returned data is a plain tree
(an alias becomes an independent copy), so later edits such as overrides touch one place only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import ConfigError

KeyPath = tuple[Any, ...]
Origin = tuple[str | None, int | None]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_COMPLEX_KEY = object()  # stands for non-scalar keys, which safe_load rejects anyway
_MAX_SUGGEST_LEN = 200  # names longer than this get no "did you mean" hint
_MAX_ALIAS_COPIES = 1_000_000  # nodes copied when un-sharing aliases ("billion laughs" guard)


@dataclass
class SourceDoc:
    """A loaded document: ``data`` plus the origin (file, 1-based line) of every key path.

    ``origins`` is internal bookkeeping: it maps key paths (tuples of mapping keys and list
    indices) to where they were written, which may be another file (``extends``) or an override.
    """

    data: dict
    file: str
    origins: dict[KeyPath, Origin] = field(default_factory=dict, repr=False)

    def origin(self, path: KeyPath) -> Origin:
        """(file, line) of the longest prefix of ``path`` with a recorded origin."""
        path = tuple(path)
        for n in range(len(path), -1, -1):
            found = self.origins.get(path[:n])
            if found is not None:
                return found
        return (self.file, None)

    def assign(self, path: Sequence[str], value: Any, origin: Origin) -> None:
        """Set ``value`` at ``path`` in ``data`` and record ``origin`` for it.

        Digit parts index lists; missing (or null) intermediate mappings are created.  A path
        that runs into a scalar or past the end of a list raises ConfigError located at ``origin``.
        """
        def fail(msg: str) -> ConfigError:
            return ConfigError(msg, file=origin[0], line=origin[1], key_path=".".join(path))

        node: Any = self.data
        walked: KeyPath = ()
        for i, part in enumerate(path):
            key: Any = part
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise fail(f"{_dotted(walked)} is a list of {len(node)} item(s); "
                               f"{part!r} is not a valid index")
                key = int(part)
            elif not isinstance(node, dict):
                raise fail(f"cannot set a key inside {_dotted(walked)}: it is {_kind(node)}")
            elif part not in node and part.lstrip("-").isdigit() and int(part) in node:
                key = int(part)  # a YAML mapping with integer keys
            walked += (key,)
            if i == len(path) - 1:
                node[key] = value
            elif (node.get(key) if isinstance(node, dict) else node[key]) is None:
                node[key] = {}
                self.origins[walked] = origin
            node = node[key]
        for stale in [p for p in self.origins if p[:len(walked)] == walked]:
            del self.origins[stale]
        self.origins[walked] = origin


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, else ``""``."""
    if len(str(name)) > _MAX_SUGGEST_LEN:  # difflib is quadratic: no hint for huge names
        return ""
    options = sorted({str(c) for c in choices if len(str(c)) <= _MAX_SUGGEST_LEN})
    import difflib  # only when a name is unknown (start-up: issue 16)
    match = difflib.get_close_matches(str(name), options, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def load_yaml(path: str | Path, *, max_bytes: int | None = None) -> SourceDoc:
    """Read one YAML file into a :class:`SourceDoc`, turning every problem into a ConfigError.

    Only a regular file of at most ``max_bytes`` (default ``files.MAX_CONFIG_BYTES``) is read:
    a device, a pipe or a folder is refused at once."""
    from .files import MAX_CONFIG_BYTES, read_bytes
    file = str(path)
    raw = read_bytes(file, max_bytes=MAX_CONFIG_BYTES if max_bytes is None else max_bytes,
                     what="a YAML or JSON file")

    try:
        loader, node = _compose(raw)
        if node is None:
            raise ConfigError("file is empty; expected a mapping of key: value pairs", file=file)
        unique_nodes: set[int] = set()
        _check_duplicates(loader, node, (), file, unique_nodes)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:  # ReaderError: bad encoding or a forbidden character
        where = f" (byte {exc.position})" if hasattr(exc, "position") else ""
        raise ConfigError(f"not readable as YAML: {str(exc).splitlines()[0]}{where}",
                          file=file) from None
    except RecursionError:
        raise ConfigError("nested too deeply to be a config", file=file) from None

    if not isinstance(data, dict):
        line = node.start_mark.line + 1
        # only the kind, never the content: this may be some other file than a config
        got = "a list" if isinstance(data, list) else f"a single {type(data).__name__} value"
        raise ConfigError(f"top level must be a mapping of key: value pairs, got {got} "
                          f"(is this a YAML or JSON config?)", file=file, line=line)
    origins: dict[KeyPath, Origin] = {(): (file, None)}
    budget = [len(unique_nodes) + _MAX_ALIAS_COPIES]
    try:
        data = _walk(loader, node, data, (), file, origins, set(), budget)
    except RecursionError:
        raise ConfigError("nested too deeply to be a config", file=file) from None
    return SourceDoc(data=data, file=file, origins=origins)


def _compose(raw: bytes) -> tuple[Any, Node | None]:
    """(loader, node tree) of ``raw``: libyaml's parser where PyYAML has it (five times faster;
    the same node tree and marks), the pure-Python one otherwise and for a document libyaml
    refuses, so that every error is reported in the same words."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None and _plain_text(raw):
        try:
            loader = fast(raw)
            return loader, loader.get_single_node()
        except yaml.YAMLError:
            pass
    loader = yaml.SafeLoader(raw)
    return loader, loader.get_single_node()


def _plain_text(raw: bytes) -> bool:
    """UTF-8 with only the characters the pure-Python reader accepts (libyaml is laxer about
    control characters); anything else goes to the pure-Python reader and its error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return yaml.reader.Reader.NON_PRINTABLE.search(text) is None


def overlay(parents: Sequence[SourceDoc], child: SourceDoc) -> SourceDoc:
    """Deep-merge ``child`` over ``parents`` (later wins) into a new document named like ``child``.

    Mappings merge key by key; lists and scalars are replaced whole.  Every key keeps the origin
    of the document that wrote it last.
    """
    data: dict = {}
    origins: dict[KeyPath, Origin] = {}
    for doc in [*parents, child]:
        data = _deep_merge(data, doc.data)
        origins.update(doc.origins)
    # Paths that no longer exist were replaced by a later document; the ones that exist carry
    # the origin of the document that wrote them last, because later entries overwrote earlier.
    origins = {p: o for p, o in origins.items() if _exists(data, p)}
    origins[()] = child.origins.get((), (child.file, None))
    return SourceDoc(data=data, file=child.file, origins=origins)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _exists(data: Any, path: KeyPath) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and type(part) is int and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> ConfigError:
    """One-line ConfigError from a PyYAML error, located at its problem mark."""
    mark = exc.problem_mark or exc.context_mark
    parts = [p for p in (exc.context, exc.problem) if p]
    msg = ", ".join(parts) or "invalid YAML"
    return ConfigError(f"YAML syntax error: {msg}", file=file,
                       line=mark.line + 1 if mark is not None else None)


def _kind(value: Any) -> str:
    if value is None:
        return "null (an empty value)"
    if isinstance(value, list):
        return "a list"
    return f"the {type(value).__name__} {value!r}"


def _scalar_key(loader: yaml.SafeLoader, key_node: Node) -> Any:
    """The python value of a scalar key node (a marker object for complex keys)."""
    if isinstance(key_node, ScalarNode):
        return loader.construct_object(key_node)
    return _COMPLEX_KEY


def _check_duplicates(loader: yaml.SafeLoader, node: Node, path: KeyPath, file: str,
                      seen: set[int]) -> None:
    """Raise ConfigError for a key written twice in one mapping (``<<`` merges may be overridden)."""
    if id(node) in seen:  # aliases share nodes; each node needs checking once
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                _check_duplicates(loader, value_node, path, file, seen)
                continue
            key = _scalar_key(loader, key_node)
            line = key_node.start_mark.line + 1
            if key is not _COMPLEX_KEY and key in first_line:
                raise ConfigError(f"duplicate key {key!r} (first defined on line "
                                  f"{first_line[key]})", file=file, line=line,
                                  key_path=_dotted(path + (key,)))
            first_line.setdefault(key, line)
            _check_duplicates(loader, value_node, path + (key,), file, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(loader, item, path + (i,), file, seen)


def _walk(loader: yaml.SafeLoader, node: Node, value: Any, path: KeyPath, file: str,
          origins: dict[KeyPath, Origin], stack: set[int], budget: list[int]) -> Any:
    """Record origins below ``path`` and return an un-shared copy of ``value``.

    ``value`` is what the constructor built from ``node``; mappings were already flattened
    (``<<`` merged in, later pairs win), so the last pair per key is the one that counts.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError("document too large after expanding aliases", file=file)
    if id(node) in stack:
        raise ConfigError("recursive alias (a node that contains itself) is not supported",
                          file=file, line=node.start_mark.line + 1,
                          key_path=".".join(map(str, path)) or None)
    if isinstance(node, MappingNode) and isinstance(value, dict):
        pairs = {}
        for key_node, value_node in node.value:
            pairs[_scalar_key(loader, key_node)] = (key_node, value_node)
        stack.add(id(node))
        out = {}
        for key, item in value.items():
            if key not in pairs:  # cannot happen with safe_load's key types; stay robust
                out[key] = item
                continue
            key_node, value_node = pairs[key]
            origins[path + (key,)] = (file, key_node.start_mark.line + 1)
            out[key] = _walk(loader, value_node, item, path + (key,), file, origins, stack, budget)
        stack.discard(id(node))
        return out
    if isinstance(node, SequenceNode) and isinstance(value, list):
        stack.add(id(node))
        out_list = []
        for i, (item_node, item) in enumerate(zip(node.value, value)):
            origins[path + (i,)] = (file, item_node.start_mark.line + 1)
            out_list.append(_walk(loader, item_node, item, path + (i,), file, origins, stack,
                                  budget))
        stack.discard(id(node))
        return out_list
    return value  # scalars, and exotic tags (!!set, !!omap ...) kept as constructed


def _dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def copy_data(data: Any) -> Any:
    """Deep copy of plain YAML data (dicts, lists, scalars), faster than copy.deepcopy."""
    if isinstance(data, dict):
        return {k: copy_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [copy_data(v) for v in data]
    return data


def as_value_error(check: Callable[[Any], Any], value: Any) -> Any:
    """``check(value)``, its AccelsimError turned into the ValueError a pydantic validator
    raises (so the loader reports it located at the key)."""
    from ..errors import AccelsimError
    try:
        return check(value)
    except AccelsimError as e:
        raise ValueError(str(e)) from None
