"""One registry pattern for every pluggable concept (DESIGN 2.1).

A :class:`Registry` maps a name (the YAML ``type:`` value) to an implementation: a unit class,
a memory class, a scheduling policy, a fidelity, a mapper pass, a component model, an op kind.
A registry may name a package whose modules are imported on first lookup, so a new
implementation is one module in that package with a ``@REGISTRY.register("name")`` decorator and
nothing else. Unknown names get a "did you mean" and the list of known names.

``accelsim list [INTERFACE]`` shows every registry (``INTERFACES`` says where each lives).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import AccelsimError

T = TypeVar("T")

#: interface name -> module that defines its registry (imported by ``accelsim list``)
INTERFACES: dict[str, str] = {
    "unit": "accelsim.arch.registry",
    "memory": "accelsim.memory",
    "policy": "accelsim.engine.policies",
    "fidelity": "accelsim.engine.fidelities",
    "pass": "accelsim.engine.passes",
    "component": "accelsim.cost.components",
    "op": "accelsim.workload.ops",
}

_REGISTRIES: dict[str, "Registry[Any]"] = {}


class Registry(Generic[T]):
    """Name -> implementation for one interface, with lazy loading of a package of modules."""

    def __init__(self, interface: str, package: str | None = None, doc: str = "",
                 by_name: bool = False, modules: dict[str, str] | None = None) -> None:
        self.interface = interface
        self.package = package
        self.doc = doc
        #: ``get(name)`` first imports only the package's module named ``name`` (or
        #: ``modules[name]``, for a name its module is not called), and the whole package only
        #: where that does not register ``name``: looking up one unit kind or fidelity does not
        #: import every implementation (issue 16: fast start-up). Listing still loads them all.
        self.by_name = by_name and package is not None
        self.modules = dict(modules or {})
        self._items: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._loaded = package is None
        _REGISTRIES[interface] = self

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: make ``type: <name>`` build (or name) the decorated object."""

        def deco(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return deco

    def add(self, name: str, obj: T, **meta: Any) -> None:
        """Register ``obj`` as ``name``; registering another object under a taken name fails."""
        old = self._items.get(name)
        if old is not None and old is not obj and _qualname(old) != _qualname(obj):
            raise ValueError(f"{self.interface} type {name!r} registered twice")
        self._items[name] = obj
        self._meta[name] = meta

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for plugins and tests that register temporary implementations)."""
        self._items.pop(name, None)
        self._meta.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # set first: the modules import this registry back
        pkg = importlib.import_module(self.package)  # type: ignore[arg-type]
        mods = [m for m in _submodules(pkg.__path__) if not m.startswith("_")]
        for mod in mods:
            importlib.import_module(f"{pkg.__name__}.{mod}")
        if self.by_name:
            self._canonical_order(pkg.__name__, mods)

    def _canonical_order(self, package: str, mods: list[str]) -> None:
        """Order the names by the package module that defines them (sorted), then as they
        were registered; names from elsewhere (plugins, tests) follow, as registered. Lookups
        by name import modules out of turn, so without this the order of ``names()`` (and of
        ``accelsim list``) would depend on which names were looked up first."""
        rank = {m: i for i, m in enumerate(mods)}
        seq = {n: i for i, n in enumerate(self._items)}

        def key(name: str) -> tuple[int, int, int]:
            module = str(getattr(self._items[name], "__module__", ""))
            top = module[len(package) + 1:].split(".", 1)[0] \
                if module.startswith(package + ".") else None
            return (0, rank[top], seq[name]) if top in rank else (1, 0, seq[name])

        order = sorted(self._items, key=key)
        self._items = {n: self._items[n] for n in order}
        self._meta = {n: self._meta[n] for n in order}

    def _load_named(self, name: str) -> None:
        """Import the one module that should define ``name`` (``by_name`` registries)."""
        module = self.modules.get(name, name)
        if not all(part.isidentifier() for part in module.split(".")):
            return
        full = f"{self.package}.{module}"
        try:
            if importlib.util.find_spec(full) is None:
                return
        except ModuleNotFoundError:  # a parent of a dotted ``modules`` entry is missing
            return
        importlib.import_module(full)

    def _lookup(self, name: object) -> T | None:
        """``name``'s implementation or None, loading as little as ``by_name`` allows."""
        if not self._loaded and self.by_name and isinstance(name, str):
            hit = self._items.get(name)
            if hit is None:
                self._load_named(name)
                hit = self._items.get(name)
            if hit is not None:
                return hit
        self._load()
        return self._items.get(name)  # type: ignore[call-overload]

    def get(self, name: str) -> T:
        """The implementation named ``name``; AccelsimError with the known names otherwise."""
        hit = self._lookup(name)
        if hit is None:
            raise AccelsimError(self.unknown(name))
        return hit

    def unknown(self, name: object) -> str:
        """The message for an unknown name: a suggestion and the known names."""
        from .config.yamlio import suggest
        return (f"unknown {self.interface} type {name!r}{suggest(str(name), self.names())}; "
                f"known types: {', '.join(self.names())}")

    def meta(self, name: str) -> dict[str, Any]:
        self._load()
        return dict(self._meta.get(name, {}))

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def registered(self) -> dict[str, T]:
        """The implementations registered so far, without loading the package (a lookup by
        name loads the rest it needs)."""
        return dict(self._items)

    def items(self) -> dict[str, T]:
        self._load()
        return dict(self._items)

    def __contains__(self, name: object) -> bool:
        return self._lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __getitem__(self, name: str) -> T:
        return self.get(name)


def _submodules(path: Any) -> list[str]:
    """Sorted names of the modules and packages in a package's ``__path__`` (what
    ``pkgutil.iter_modules`` lists, read from the folders directly: pkgutil imports
    ``inspect``, a noticeable share of a short command's start-up)."""
    names: set[str] = set()
    for folder in path:
        try:
            entries = os.listdir(folder)
        except OSError:  # not a folder (a zip import): let pkgutil read it
            import pkgutil  # imported here only: start-up (issue 16)
            names.update(m.name for m in pkgutil.iter_modules([folder]))
            continue
        for e in entries:
            if e.endswith(".py") and e[:-3].isidentifier() and e != "__init__.py":
                names.add(e[:-3])
            elif e.isidentifier() and os.path.isfile(os.path.join(folder, e, "__init__.py")):
                names.add(e)
    return sorted(names)


class Names:
    """A live, read-only sequence of a registry's names (e.g. ``accelsim.FIDELITIES``)."""

    def __init__(self, registry: Registry[Any]) -> None:
        self._registry = registry

    def _names(self) -> tuple[str, ...]:
        return tuple(self._registry.names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __getitem__(self, i: int) -> str:
        return self._names()[i]

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return repr(self._names())


def registry(interface: str) -> Registry[Any]:
    """The registry of ``interface`` (importing the module that defines it)."""
    module = INTERFACES.get(interface)
    if module is None:
        from .config.yamlio import suggest
        raise AccelsimError(f"unknown interface {interface!r}{suggest(interface, INTERFACES)}; "
                            f"interfaces: {', '.join(INTERFACES)}")
    importlib.import_module(module)
    return _REGISTRIES[interface]


def describe(interface: str) -> list[dict[str, Any]]:
    """Each implementation of ``interface``: name, module, one-line doc and config keys."""
    reg = registry(interface)
    out = []
    for name, obj in reg.items().items():
        meta = reg.meta(name)
        doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
        out.append({"name": name, "module": getattr(obj, "__module__", ""),
                    "doc": meta.get("doc") or (doc[0] if doc else ""),
                    "keys": meta.get("keys") or config_keys(getattr(obj, "config_model", None))})
    return out


def config_keys(model: Any) -> list[dict[str, Any]]:
    """Config keys of a pydantic model: key, type, default ('required'), description."""
    if model is None or not hasattr(model, "model_fields"):
        return []
    keys = []
    for key, f in model.model_fields.items():
        if key == "type":
            continue
        default = "required" if f.is_required() else f.default
        if hasattr(default, "model_dump"):
            default = default.model_dump(mode="json")
        ann = _type_name(f.annotation)
        keys.append({"key": key, "type": ann, "default": default,
                     "description": f.description or ""})
    return keys


def _type_name(tp: Any) -> str:
    """'int', 'float | None', "'os' | 'ws' | 'is'" for a field annotation."""
    import types
    import typing
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
