"""Command line: ``accelsim run | gemm | validate | units | list`` plus plugin commands.

Feature packages add subcommands without touching this file: a module listed in
``COMMAND_MODULES`` defines ``add_commands(subparsers) -> {name: handler}`` where a handler is
``handler(args, console) -> exit code``.

Every user error is printed as one ``error: ...`` block and exits 2; no traceback reaches the
user (set ACCELSIM_DEBUG=1 to see one for internal errors). Output files (``--json FILE``,
``--trace``, ``-o/--output``, ``--out``, ...) are checked before any work: their folder must
exist (it is not created) and they must not be folders; a sweep's ``--store`` folder is created,
with its missing parents. Output into a closed pipe (``accelsim ... | head``) ends quietly with
exit status 141, as a program killed by SIGPIPE does.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .errors import AccelsimError
from .registry import INTERFACES
from .startup import startup

if TYPE_CHECKING:
    from rich.console import Console

    from .arch import Arch
    from .workload import Trace

# Only argparse and the small modules above load with this one: every command's implementation
# (the engine, numpy, pydantic models, pandas, rich, ...) is imported inside its handler, so
# `accelsim --version` and short commands start fast (issue 16; tests/test_startup.py).


COMMAND_MODULES = (
    "accelsim.workload.commands",   # workload list/show, trace
    "accelsim.cost.commands",       # techlib show
    "accelsim.dse.commands",        # sweep, pareto, plot, report
    "accelsim.measured.commands",   # measured check, measured fit
    "accelsim.dse.size_cli",        # size (iso-area sizing)
    "accelsim.reproduce.commands",  # reproduce PAPER
    "accelsim.memory.dram.cli",     # dram STANDARD (DRAM micro-benchmark)
    "accelsim.report.compare_cli",  # compare ARCH_A ARCH_B ... WORKLOAD [--iso-area]
    "accelsim.examples",            # examples DEST (copy configs and example workloads out)
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override an arch config key by dotted path, e.g. -o units.sa.rows=64 "
                        "(repeatable)")
    from .engine.fidelities import FIDELITY_NAMES as FIDELITIES  # the registry, not the engine
    p.add_argument("--fidelity", choices=FIDELITIES, default="op",
                   help="analytical (closed form), op (DES per op) or tile (DES per tile); "
                        "default: op")


#: the commands this module defines (the rest come from COMMAND_MODULES)
BUILTIN_COMMANDS = ("run", "gemm", "validate", "units", "list")


def command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option: the top level
    has no option taking a value), '' for a bare ``--version``, None when unknown (the top
    level's help, which lists every command)."""
    for tok in argv:
        if tok in ("-h", "--help"):
            return None
        if not tok.startswith("-"):
            return tok
    return "" if "--version" in argv and not {"-h", "--help"} & set(argv) else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``accelsim`` parser. ``command`` (``command_of(argv)``) lets a short command skip
    what it does not use: for a built-in command (or '' for ``--version``) the feature
    packages of COMMAND_MODULES are not imported, nor the run options' module unless the
    command is ``run`` (issue 16: fast start-up). None (or another command) builds all."""
    light = command is not None and (command == "" or command in BUILTIN_COMMANDS)
    ap = argparse.ArgumentParser(prog="accelsim", description=__doc__.splitlines()[0])
    ap.add_argument("--version", action=_VersionAction)
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate a workload on an architecture")
    run.add_argument("arch", help="architecture YAML or SCALE-Sim scale.cfg")
    run.add_argument("workload", help="trace file (.yaml, .json), GEMM list or SCALE-Sim "
                                      "topology (.csv), zoo model name (accelsim workload "
                                      "list), HF config.json, model folder or cached HF id")
    _common(run)
    run.add_argument("--json", metavar="FILE", help="write the full result as JSON ('-': stdout)")
    run.add_argument("--trace", metavar="FILE", help="write a Perfetto/Chrome trace JSON")
    run.add_argument("--csv-dtype", default="int8",
                     help="operand dtype for .csv GEMM lists (SCALE-Sim uses 1-byte words; "
                          "default int8)")
    run.add_argument("--quiet", action="store_true", help="no summary table")
    if not light or command == "run":
        from .workload.commands import add_run_args
        add_run_args(run)  # --phase --batch --ctx --prompt, quantisation, --requests (serving)

    g = sub.add_parser("gemm", help="cost one GEMM C[M,N] = A[M,K] @ B[K,N]")
    g.add_argument("arch", help="architecture YAML")
    g.add_argument("--m", type=int, required=True)
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--k", type=int, required=True)
    g.add_argument("--batch", type=int, default=1)
    g.add_argument("--dtype", default=None,
                   help="activation dtype (default: the pe_dtype of the arch's GEMM unit)")
    g.add_argument("--w-dtype", default=None, help="weight (B) dtype (default: --dtype)")
    g.add_argument("--group-size", type=int, default=None, help="quantisation group size along K")
    _common(g)
    g.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="print JSON (to stdout, or to FILE)")

    from .report.jsonout import add_json_argument, conform
    v = sub.add_parser("validate", help="check an architecture YAML and print it resolved")
    v.add_argument("arch")
    v.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    add_json_argument(v, "the name, config hash and resolved config")

    un = sub.add_parser("units", help="list the registered unit types and their config keys")
    add_json_argument(un, "the unit types and their keys")
    ls = sub.add_parser("list", help="registered implementations of every pluggable interface "
                                     "(units, memories, policies, fidelities, passes, ...)")
    ls.add_argument("interface", nargs="?", metavar="INTERFACE",
                    help=f"one of: {', '.join(INTERFACES)} (default: all)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of tables")
    handlers = {"run": cmd_run, "gemm": cmd_gemm, "validate": cmd_validate, "units": cmd_units,
                "list": cmd_list}
    for modname in () if light else COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name in (modname, modname.rsplit(".", 1)[0]):
                continue  # feature not installed in this tree
            raise
        handlers.update(mod.add_commands(sub))
    conform(sub, handlers)  # one --json [FILE|-] form everywhere (accelsim.report.jsonout)
    ap.set_defaults(_handlers=handlers)
    _document_outputs(sub)
    return ap


class _VersionAction(argparse.Action):
    """``--version``: argparse's version action, reading the installed version only when asked
    (``importlib.metadata`` is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from . import __version__
        parser._print_message(f"accelsim {__version__}\n", sys.stdout)
        parser.exit()


#: option destinations that name an output FILE, in every command ('-' is stdout where allowed)
OUTPUT_FILE_DESTS = ("json", "trace", "output", "out", "markdown", "save")
#: option destinations that name an output FOLDER (created with its parents), per command
OUTPUT_DIR_DESTS = {"sweep": ("store",)}
#: exit status after output into a closed pipe (128 + SIGPIPE, as the shell reports)
EXIT_BROKEN_PIPE = 141
_FILE_NOTE = " (its folder must exist)"
_DIR_NOTE = " (created, with missing parent folders)"


def _document_outputs(sub: argparse._SubParsersAction) -> None:
    """Say in each output option's help how its path is treated (see ``check_outputs``)."""
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if action.help in (None, argparse.SUPPRESS) or not action.option_strings:
                continue
            if action.dest in OUTPUT_DIR_DESTS.get(name, ()):
                action.help += _DIR_NOTE
            elif action.dest in OUTPUT_FILE_DESTS and action.nargs != 0 and \
                    _FILE_NOTE not in action.help:
                action.help += _FILE_NOTE


def check_outputs(args: argparse.Namespace) -> None:
    """ConfigError, before any work, for an output path that cannot be written: a folder given
    as a file, a file inside a folder that does not exist, a file where a folder is needed."""
    from .config.files import check_output_dir, check_output_file
    for dest in OUTPUT_DIR_DESTS.get(args.command, ()):
        value = getattr(args, dest, None)
        if isinstance(value, str):
            check_output_dir(value, "--" + dest.replace("_", "-"))
    for dest in OUTPUT_FILE_DESTS:
        if dest in OUTPUT_DIR_DESTS.get(args.command, ()):
            continue
        value = getattr(args, dest, None)
        if isinstance(value, str) and value != "-":
            check_output_file(value, "--" + dest.replace("_", "-"))


def _Console(**kwargs: Any) -> "Console":
    """rich's Console, but a closed pipe ends like any other (rich would exit with status 1);
    rich is imported here, when a command runs, not when the CLI loads."""
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return _PipeConsole(**kwargs)


class _LazyConsole:
    """Stands for ``_Console(**kwargs)`` and makes it on first use, so a command that prints
    without rich (``accelsim gemm`` into a pipe or file: ``report.gemm.print_gemm``) never imports rich
    (issue 16). Only the commands in ``LAZY_CONSOLE`` get one; the others get the console."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = _Console(**self._kwargs)
        return getattr(self._console, name)


#: commands whose handler may finish without touching the console (see ``_LazyConsole``)
LAZY_CONSOLE = ("gemm",)


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): drop what is buffered, exit without a word."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush goes nowhere
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file descriptor (captured): nothing more to flush
    return EXIT_BROKEN_PIPE


#: numpy's bundled OpenBLAS runs one thread per core by default; accelsim's arrays are tiny
#: (per fold class, per op) and sweeps parallelise over processes, so the CLI asks for one
#: BLAS thread unless the user set the variable: the threads' start and idle spinning cost
#: about 0.07 CPU-s of a 0.6 CPU-s ``accelsim gemm`` here (issue 16). Set before numpy loads.
SERIAL_BLAS_ENV = "OPENBLAS_NUM_THREADS"


def _serial_blas() -> None:
    if "numpy" not in sys.modules:  # once numpy is loaded the pool exists: nothing to gain
        os.environ.setdefault(SERIAL_BLAS_ENV, "1")


def main(argv: Sequence[str] | None = None) -> int:
    _serial_blas()
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: Sequence[str] | None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    with startup():  # the parser and the modules it reads (accelsim.startup)
        args = build_parser(command_of(argv)).parse_args(argv)
    # wide tables when piped or captured (rich would assume 80 columns)
    make = _LazyConsole if args.command in LAZY_CONSOLE else _Console
    console = make(width=None if sys.stdout.isatty() else 150)
    try:
        with startup():  # accelsim.config loads here: pydantic, yaml, numpy (accelsim.startup)
            check_outputs(args)
        code = args._handlers[args.command](args, console)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        raise
    except AccelsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if os.environ.get("ACCELSIM_DEBUG") or e.filename is None:
            return _internal(e)
        # a file the system would not let us read or write: the user's to fix, not a bug
        print(f"error: {e.filename}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:
        return _internal(e)


def _internal(e: Exception) -> int:
    """An accelsim bug: say so briefly, keep the traceback for debugging."""
    if os.environ.get("ACCELSIM_DEBUG"):
        raise e
    print(f"internal error: {type(e).__name__}: {e}\n(please report it; set ACCELSIM_DEBUG=1 "
          "for a traceback)", file=sys.stderr)
    return 3


def resolve_workload(arg: str, csv_dtype: str = "int8", args=None) -> Trace:
    """A trace file, or a zoo model / HF config.json built with the run's model options."""
    from .workload import load_trace, zoo
    if args is not None and zoo.is_model_ref(arg):
        from .workload.commands import trace_kwargs
        return zoo.build_trace(arg, **trace_kwargs(args, arg))
    return load_trace(arg, csv_dtype=csv_dtype)


def _write_json(data: dict, dest: str) -> None:
    """``data`` as ``json.dumps(data, indent=1)`` plus a newline, to stdout (``-``) or a file,
    written in pieces of 64 Ki chunks: a 10^5-op run's 70 MB is never held as one string and
    its ten million chunks never as one list (0.6 GB less at peak), same bytes."""
    chunks = json.JSONEncoder(indent=1).iterencode(data)
    if dest == "-":
        _write_chunks(chunks, sys.stdout)
        return
    with open(dest, "w") as f:
        _write_chunks(chunks, f)


def _write_chunks(chunks, out) -> None:
    buf: list[str] = []
    for chunk in chunks:
        buf.append(chunk)
        if len(buf) >= 65536:
            out.write("".join(buf))
            buf.clear()
    buf.append("\n")
    out.write("".join(buf))


def _load_device(args) -> Arch | None:
    """The device of ``args.arch`` with ``args.override``, or None for a multi-device system
    file (``accelsim.system``: the command's system path loads it)."""
    from .arch import load_arch
    from .system import is_system_file
    return None if is_system_file(args.arch) else load_arch(args.arch, args.override)


def cmd_run(args, console: Console) -> int:
    with startup():  # imports and the arch: long-lived objects, no GC scans (accelsim.startup)
        from .pipeline import simulate
        from .workload.commands import check_serving_options
        check_serving_options(args)
        arch = _load_device(args)
    if arch is None:                        # a multi-device system (accelsim.system)
        from .system.cli import run_system
        return run_system(args, console)
    if getattr(args, "requests", None):
        from .workload.commands import run_serving
        return run_serving(args, console, arch)
    trace = resolve_workload(args.workload, args.csv_dtype, args)
    result = simulate(arch, trace, fidelity=args.fidelity)
    if not args.quiet and args.json != "-":
        from .report.energy_tables import print_energy_area
        from .report.tables import print_summary
        print_summary(result, console)
        print_energy_area(result, console)
    if args.json:  # with the resolved config, so accelsim plot FILE roofline needs no --arch
        _write_json(result.to_dict() | {"arch_config": arch.resolved()}, args.json)
    if args.trace:
        Path(args.trace).write_text(json.dumps(result.chrome_trace()) + "\n")
        if args.json != "-":
            console.print(f"timeline written to {args.trace} (open in ui.perfetto.dev)")
    return 0


def _default_dtype(arch: Arch) -> str:
    for u in arch.units.values():
        if "gemm" in u.categories and getattr(u.config, "pe_dtype", None):
            return u.config.pe_dtype  # type: ignore[attr-defined]
    return "bf16"


def cmd_gemm(args, console: Console) -> int:
    with startup():  # imports and the arch: long-lived objects, no GC scans (accelsim.startup)
        from .pipeline import simulate
        from .workload import Gemm, Trace
        arch = _load_device(args)
    if arch is None:                        # tensor-parallel over a system's ranks
        from .system.cli import gemm_system
        return gemm_system(args, console)
    dt = args.dtype or _default_dtype(arch)
    op = Gemm("gemm", m=args.m, n=args.n, k=args.k, batch=args.batch, dtype=dt,
              w_dtype=args.w_dtype, group_size=args.group_size)
    result = simulate(arch, Trace.from_ops(f"gemm_{args.m}x{args.n}x{args.k}", [op]),
                      fidelity=args.fidelity)
    if args.json:
        from .report.gemm import gemm_json
        _write_json(gemm_json(result), args.json)
        if args.json == "-":
            return 0
    from .report.gemm import print_gemm
    print_gemm(result, console)
    return 0


def _validate_json(args, name: str, resolved: dict, **extra) -> bool:
    """``validate --json``: write the verdict; True when it went to stdout (nothing else to
    print). An invalid config is an error (exit 2) as without --json."""
    if not args.json:
        return False
    from .report.jsonout import write_json
    write_json({"ok": True, "file": args.arch, "name": name, **extra, "resolved": resolved},
               args.json)
    return args.json == "-"


def cmd_validate(args, console: Console) -> int:
    import yaml

    from .arch import load_arch
    from .system import is_system_file, load_system
    if is_system_file(args.arch):            # a multi-device system
        system = load_system(args.arch, args.override)
        p = system.parallelism
        if _validate_json(args, system.name, system.resolved()):
            return 0
        console.print(f"[green]ok[/green] {args.arch}: {system.name}, "
                      f"{system.config.devices.count} x {system.device.name} (dp {p.dp}, "
                      f"tp {p.tp}, pp {p.pp}, ep {p.ep})")
        console.print(yaml.safe_dump(system.resolved(), sort_keys=False), markup=False)
        return 0
    arch = load_arch(args.arch, args.override)
    if _validate_json(args, arch.name, arch.resolved(), units=list(arch.units),
                      config_hash=arch.config_hash()):
        return 0
    console.print(f"[green]ok[/green] {args.arch}: {arch.name}, {len(arch.units)} unit(s), "
                  f"config hash {arch.config_hash()}")
    console.print(yaml.safe_dump(arch.resolved(), sort_keys=False), markup=False)
    return 0


def cmd_units(args, console: Console) -> int:
    from rich.table import Table

    from .registry import describe
    if args.json:
        from .report.jsonout import write_json
        write_json({"unit": describe("unit")}, args.json)
        if args.json == "-":
            return 0
    for d in describe("unit"):
        t = Table(title=f"type: {d['name']}  ({d['module']})", title_justify="left")
        for col in ("key", "type", "default", "description"):
            t.add_column(col)
        for k in d["keys"]:
            t.add_row(k["key"], str(k["type"]), _shown(k["default"]), k["description"])
        console.print(t)
    return 0


def cmd_list(args, console: Console) -> int:
    """``accelsim list [INTERFACE] [--json]``: what is registered, with config keys."""
    from rich.table import Table

    from .registry import describe, registry
    if args.interface is None and args.json in INTERFACES:  # `list --json unit`: not a file
        args.interface, args.json = args.json, "-"
    names = [args.interface] if args.interface else list(INTERFACES)
    regs = {n: registry(n) for n in names}  # an unknown interface is a clear error
    if args.json:
        from .report.jsonout import write_json
        write_json({n: describe(n) for n in names}, args.json)
        if args.json == "-":
            return 0
    for n in names:
        t = Table(title=f"{n}: {regs[n].doc}", title_justify="left")
        for col in ("name", "what", "config keys (default)"):
            t.add_column(col)
        for d in describe(n):
            keys = ", ".join(k["key"] if k["default"] in ("", "required") else
                             f"{k['key']}={_shown(k['default'])}" for k in d["keys"])
            t.add_row(d["name"], d["doc"], keys)
        console.print(t)
    return 0


def _shown(default: object) -> str:
    return "" if default == "" else str(default) if default == "required" else repr(default)


if __name__ == "__main__":
    sys.exit(main())
