"""One ``--json [FILE|-]`` convention for every command.

``--json`` alone or ``--json -`` prints JSON to stdout and nothing else (no tables or notes,
so the output pipes into ``jq``); ``--json FILE`` writes FILE and prints the usual output as
well. Numbers that are not finite are written as ``null`` (JSON has no NaN).

``conform(subparsers, handlers)`` (called by ``accelsim.cli``) gives every subcommand's
``--json`` option this form, plugin commands included, whatever they declared (a FILE option,
or a flag that printed to stdout), and wraps a handler that does not implement one of the two
forms itself: a handler that only writes files runs with a temporary file whose content is then
printed; one that only prints runs with its stdout captured into FILE. It also adds ``--json``
to ``workload list``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:  # rich is imported where a handler runs (the CLI loads this module: issue 16)
    from rich.console import Console

JSON_HELP = "no FILE or '-': JSON alone to stdout"
#: commands (paths of subcommand names) whose handlers implement both forms themselves
NATIVE = {("run",), ("gemm",), ("sweep",), ("pareto",), ("dram",), ("techlib", "show"),
          ("compare",), ("list",), ("units",), ("validate",), ("workload", "list")}

Handler = Callable[[argparse.Namespace, "Console"], int]


def clean(data: Any) -> Any:
    """``data`` with NaN and infinities as None (recursively), numpy scalars as Python ones."""
    if isinstance(data, dict):
        return {str(k): clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [clean(v) for v in data]
    if isinstance(data, bool) or data is None or isinstance(data, (str, int)):
        return data
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    try:
        import numpy as np
        if isinstance(data, np.integer):
            return int(data)
        if isinstance(data, np.floating):
            return clean(float(data))
        if isinstance(data, np.bool_):
            return bool(data)
    except ImportError:  # pragma: no cover
        pass
    return str(data)


def dumps(data: Any) -> str:
    return json.dumps(clean(data), indent=1)


def write_json(data: Any, dest: str) -> None:
    """``data`` as JSON to stdout (``dest`` '-') or to the file ``dest``."""
    text = dumps(data)
    if dest == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(dest).write_text(text + "\n")


def add_json_argument(p: argparse.ArgumentParser, what: str = "the results") -> None:
    """``--json [FILE|-]`` on ``p``."""
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help=f"write {what} as JSON ({JSON_HELP})")


def _walk(parser: argparse.ArgumentParser, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path of (dest, name) pairs, parser) for ``parser`` and every nested subcommand."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sp in action.choices.items():
                if id(sp) not in seen:
                    seen.add(id(sp))
                    yield from _walk(sp, path + ((action.dest, name),))


def _matches(args: argparse.Namespace, path: tuple) -> bool:
    return all(getattr(args, dest, None) == name for dest, name in path)


def conform(sub: argparse._SubParsersAction, handlers: dict[str, Handler]) -> None:
    """Give every ``--json`` option of ``sub``'s commands the ``[FILE|-]`` form (see the
    module docstring) and wrap the handlers that need it."""
    _add_workload_list(sub, handlers)
    seen: set[int] = set()
    for top, parser in sub.choices.items():
        if id(parser) in seen or top not in handlers:
            continue
        seen.add(id(parser))
        modes: list[tuple[tuple, str]] = []
        for path, p in _walk(parser):
            names = (top, *(n for _, n in path))
            for action in p._actions:
                if action.dest != "json" or "--json" not in action.option_strings:
                    continue
                flag = action.nargs == 0
                if flag:  # a store_true flag: store a value from now on
                    action.__class__ = argparse._StoreAction
                    action.default = None
                action.nargs, action.const, action.metavar = "?", "-", "FILE|-"
                text = (action.help or "write JSON").replace(" ('-': stdout)", "")
                if JSON_HELP not in text:
                    action.help = f"{text} ({JSON_HELP})"
                if names not in NATIVE:
                    modes.append((path, "stdout" if flag else "file"))
        if modes:
            handlers[top] = _wrapped(handlers[top], modes)


def _wrapped(handler: Handler, modes: list[tuple[tuple, str]]) -> Handler:
    def run(args: argparse.Namespace, console: Console) -> int:
        dest = getattr(args, "json", None)
        mode = next((m for path, m in modes if _matches(args, path)), None)
        if dest is None or mode is None:
            return handler(args, console)
        if mode == "file" and dest == "-":
            return _file_to_stdout(handler, args)
        if mode == "stdout" and dest != "-":
            return _stdout_to_file(handler, args, console, dest)
        return handler(args, console)
    run.__wrapped__ = handler  # type: ignore[attr-defined]
    return run


def _file_to_stdout(handler: Handler, args: argparse.Namespace) -> int:
    """Run a handler that writes --json only to files with a temporary one; print it alone."""
    import tempfile  # here, not at import: the CLI loads this module (issue 16)
    with tempfile.TemporaryDirectory(prefix="accelsim-json-") as tmp:
        path = os.path.join(tmp, "out.json")
        args.json = path
        try:
            from rich.console import Console
            with contextlib.redirect_stdout(io.StringIO()):   # tables go nowhere
                code = handler(args, Console(file=io.StringIO(), width=150))
        finally:
            args.json = "-"
        text = Path(path).read_text() if os.path.exists(path) else ""
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return code


def _stdout_to_file(handler: Handler, args: argparse.Namespace, console: Console,
                    dest: str) -> int:
    """Run a handler that prints --json only to stdout with its output captured into
    ``dest``, then once more without --json for the usual output."""
    from rich.console import Console
    buf = io.StringIO()
    args.json = "-"
    try:
        with contextlib.redirect_stdout(buf):
            code = handler(args, Console(file=io.StringIO(), width=150))
    finally:
        args.json = dest
    Path(dest).write_text(buf.getvalue())
    if code:
        return code
    args.json = None
    try:
        return handler(args, console)
    finally:
        args.json = dest


# ---------------------------------------------------------------------------- workload list

def workload_list_data() -> dict[str, Any]:
    """The model zoo as data: what ``accelsim workload list`` prints."""
    from ..workload.models import list_models, load_model, models_dir, param_count
    models = []
    for name in list_models():
        c = load_model(name)
        models.append({
            "model": name, "family": c.family, "params": int(param_count(c)),
            "layers": c.layers, "hidden": c.hidden, "heads": c.heads, "kv_heads": c.kv_heads,
            "ffn": c.ffn, "experts": c.experts if c.is_moe else None,
            "top_k": c.top_k if c.is_moe else None, "vocab": c.vocab, "max_ctx": c.max_pos,
            "native_weight_bits": c.native_weight_bits,
            "native_act_dtype": c.native_act_dtype})
    return {"models_dir": str(models_dir()), "models": models}


def _add_workload_list(sub: argparse._SubParsersAction, handlers: dict[str, Handler]) -> None:
    parser = sub.choices.get("workload")
    if parser is None or "workload" not in handlers:
        return
    for path, p in _walk(parser):
        if [n for _, n in path] != ["list"]:
            continue
        if any(a.dest == "json" for a in p._actions):
            return  # the workload package has one of its own
        add_json_argument(p, "the model table")
        inner = handlers["workload"]
        dest = path[0][0]

        def run(args: argparse.Namespace, console: Console) -> int:
            if getattr(args, dest, None) == "list" and getattr(args, "json", None):
                write_json(workload_list_data(), args.json)
                if args.json == "-":
                    return 0
            return inner(args, console)
        handlers["workload"] = run
        return
