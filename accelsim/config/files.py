"""Reading input files and checking output paths, every problem a located ConfigError.

Inputs are read only from regular files (a device such as ``/dev/zero``, a named pipe or a
folder is refused at once, never read until it ends), at most a fixed number of bytes, and text
must be UTF-8: a binary or otherwise encoded file is named with the line of its first bad byte,
never shown. Output files must lie in an existing folder and must not be folders themselves;
this is checked before any work is done (``accelsim.cli`` checks every output option).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ConfigError

#: the largest configuration file (architecture, experiment, model config) read, in bytes
MAX_CONFIG_BYTES = 4 * 1024 * 1024
#: the largest trace or CSV input (op traces, GEMM lists, request traces) read, in bytes
MAX_INPUT_BYTES = 256 * 1024 * 1024
#: what ``extends:`` and an experiment's ``archs.<name>.path`` may name
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def read_bytes(path: str | Path, *, max_bytes: int = MAX_CONFIG_BYTES,
               what: str = "a config file") -> bytes:
    """The bytes of the regular file ``path`` (ConfigError if missing, not a regular file, or
    larger than ``max_bytes``). ``what`` names the expected content in messages."""
    file = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        st = os.stat(file)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"is a directory, expected {what}", file=file)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"is not a regular file (a device, pipe or socket), expected "
                              f"{what}", file=file)
        fd = os.open(file, flags)  # non-blocking: a pipe swapped in after the stat cannot hang
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except NotADirectoryError:
        raise ConfigError("file not found (a folder on its path is a file)", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"is not a regular file, expected {what}", file=file)
        if st.st_size > max_bytes:
            raise ConfigError(f"is {st.st_size:,} bytes, more than the {_mib(max_bytes)} "
                              f"accepted for {what}", file=file)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # grew while being read
        raise ConfigError(f"is more than the {_mib(max_bytes)} accepted for {what}", file=file)
    return data


def decode_text(data: bytes, file: str, what: str = "a text file") -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); a ConfigError naming the
    line of the first byte that is not UTF-8 (the content itself is never shown)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); expected {what}", file=file, line=line) from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ConfigError(f"is a binary file (a NUL byte), not UTF-8 text; expected {what}",
                          file=file, line=line)
    return text


def read_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES,
              what: str = "a text file") -> str:
    """``read_bytes`` + ``decode_text``."""
    return decode_text(read_bytes(path, max_bytes=max_bytes, what=what), str(path), what)


def config_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a config file named from inside another one (``extends``, an
    experiment's arch ``path``), or None: only existing regular ``.yaml``/``.yml``/``.json``
    files within ``MAX_CONFIG_BYTES`` are accepted (so nothing else is ever read or shown)."""
    file = str(path)
    if Path(file).suffix.lower() not in CONFIG_SUFFIXES:
        return f"{file} is not a config file (expected a .yaml, .yml or .json file)"
    try:
        st = os.stat(file)
    except OSError:
        return f"file not found: {file}"
    if stat.S_ISDIR(st.st_mode):
        return f"{file} is a directory, not a config file"
    if not stat.S_ISREG(st.st_mode):
        return f"{file} is not a regular file"
    if st.st_size > MAX_CONFIG_BYTES:
        return f"{file} is {st.st_size:,} bytes, more than the {_mib(MAX_CONFIG_BYTES)} " \
               f"accepted for a config file"
    return None


def check_output_file(path: str, option: str) -> None:
    """ConfigError unless ``path`` can be written as an output file: it must not be a folder
    and its folder must exist (folders are not created: a mistyped path is an error)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"is a directory; {option} needs a file name", file=path)
    parent = p.parent
    if not parent.exists():
        raise ConfigError(f"folder {str(parent)!r} does not exist (create it first, or choose "
                          f"another {option} path)", file=path)
    if not parent.is_dir():
        raise ConfigError(f"{str(parent)!r} is not a folder, so {option} cannot be written "
                          f"there", file=path)
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"folder {str(parent)!r} is not writable ({option})", file=path)


def check_output_dir(path: str, option: str) -> None:
    """ConfigError unless ``path`` is a folder or can be made one: missing folders (and missing
    parents) are created later by the command; an existing file on the way is an error."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"is a file, but {option} names a folder", file=path)
        return
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{str(parent)!r} is a file, so the {option} folder cannot be "
                                  f"made there", file=path)
            if not os.access(parent, os.W_OK):
                raise ConfigError(f"folder {str(parent)!r} is not writable ({option})", file=path)
            return
