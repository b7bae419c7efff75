"""The result store: a directory of append-only Parquet parts, one row per point.

Layout::

    STORE/manifest.json          what was swept: experiment text, parameters, objectives, runs
    STORE/parts/part-NNNNNN.parquet   finished points; each part is written to a temporary file,
                                 fsynced and renamed into place, so a part is whole or absent
    STORE/index.jsonl            one line per committed part with its point keys (a cache:
                                 rebuilt from the parts when it is missing or behind)
    STORE/.lock                  held (an OS file lock, via ``filelock``) while a sweep writes

A kill -9 can lose only points whose part was not yet renamed into place; a torn index line is
ignored and rebuilt. Readers ignore the temporary files (``.tmp-*``) a kill -9 leaves behind;
the next writer deletes them when it takes the lock (no other writer can be using them then). Rows are keyed by ``key`` (a hash of the point's resolved config). A key may
sit in several parts (a retried failed point, or a compaction or rewrite interrupted before it
deleted the parts it merged): the row of the newest part (the highest part number) wins, so a
reader always sees one row per key. ``load`` returns them sorted by point index then key, with a
fixed column order, so the same sweep gives the same table whatever the worker count, backend or
number of interruptions.
"""
from __future__ import annotations

import bisect
import itertools
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from ..errors import AccelsimError
from .experiment import META_COLUMNS

FORMAT = 1
_META_TYPES = {"point": pa.int64(), "feasible": pa.bool_()}
_PARAM_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}


class StoreError(AccelsimError):
    """A store that cannot be used as asked (missing, busy, or from another version)."""


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _encode(table: pa.Table) -> bytes:
    """A part's bytes: ``table`` as zstd-compressed Parquet."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _lock_fd(path: Path) -> FileLock:
    """Take the writer lock of the store at ``path``; StoreError if another sweep holds it.

    An exclusive OS lock on ``STORE/.lock`` (flock on POSIX, msvcrt on Windows), taken without
    waiting; the OS drops it when the process dies, so a killed sweep never leaves it held."""
    lock = FileLock(str(path / ".lock"), timeout=0, mode=0o644, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise StoreError(f"{path} is being written by another sweep") from None
    return lock


def _unlock_fd(lock: FileLock) -> None:
    lock.release()


class ResultStore:
    """Read and append results; ``ResultStore(path)`` opens an existing store read-only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        mf = self.path / "manifest.json"
        if not mf.is_file():
            raise StoreError(f"{self.path}: not a result store (no manifest.json)")
        try:
            self.manifest: dict[str, Any] = json.loads(mf.read_bytes())
        except (OSError, ValueError, RecursionError) as e:
            raise StoreError(f"{mf}: not a readable store manifest "
                             f"({type(e).__name__})") from None
        if not isinstance(self.manifest, dict):
            raise StoreError(f"{mf}: not a store manifest (not a JSON object)")
        if self.manifest.get("format") != FORMAT:
            raise StoreError(f"{self.path}: store format {self.manifest.get('format')} is not "
                             f"supported (this accelsim reads format {FORMAT})")
        self._lock_fd: FileLock | None = None
        self.removed_temporaries = 0
        self._index: dict[str, list[str]] = {}
        self._keys: set[str] = set()
        self._reconcile()

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any], overwrite: bool = False) -> "ResultStore":
        """Make a new store at ``path`` (replacing an existing one only with ``overwrite``)."""
        p = Path(path)
        if p.exists() and any(p.iterdir()):
            if not overwrite:
                raise StoreError(f"{p} already exists; pass --resume to continue that sweep, "
                                 f"--overwrite to replace it, or choose another store path")
            if not (p / "manifest.json").is_file():
                raise StoreError(f"{p} exists and is not a result store; not overwriting it")
            fd = _lock_fd(p)  # never delete a store another sweep is writing
            try:
                shutil.rmtree(p)
            finally:
                _unlock_fd(fd)
        (p / "parts").mkdir(parents=True, exist_ok=True)
        _atomic_write(p / "manifest.json", json.dumps({"format": FORMAT, **manifest},
                                                      indent=1).encode())
        return cls(p)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest (atomically)."""
        self.manifest = {"format": FORMAT, **{k: v for k, v in manifest.items() if k != "format"}}
        _atomic_write(self.path / "manifest.json", json.dumps(self.manifest, indent=1).encode())

    # ------------------------------------------------------------------ locking
    def lock(self) -> None:
        """Take the writer lock (StoreError if another sweep holds it), then delete temporary
        files that killed writers left; ``removed_temporaries`` says how many."""
        if self._lock_fd is None:
            self._lock_fd = _lock_fd(self.path)
            self.removed_temporaries = self._remove_temporaries()

    def _remove_temporaries(self) -> int:
        """Delete ``.tmp-*`` files of ``_atomic_write`` (unfinished: a finished one is renamed
        away); only while holding the lock, so no writer is still writing them."""
        n = 0
        for d in (self.path, self.path / "parts"):
            for f in d.glob(".tmp-*"):
                try:
                    if f.is_file() and not f.is_symlink():
                        f.unlink()
                        n += 1
                except OSError:
                    continue
        return n

    def unlock(self) -> None:
        if self._lock_fd is not None:
            _unlock_fd(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ index
    def _parts(self) -> list[str]:
        return sorted(f.name for f in (self.path / "parts").glob("part-*.parquet"))

    def _reconcile(self) -> None:
        """Load the index; add parts it lacks (a crash after the rename), drop missing ones."""
        on_disk = self._parts()
        index: dict[str, list[str]] = {}
        idx = self.path / "index.jsonl"
        if idx.is_file():
            for line in idx.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    index[entry["part"]] = list(entry["keys"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from a kill -9
        missing = [p for p in on_disk if p not in index]
        stale = [p for p in index if p not in on_disk]
        for p in missing:
            index[p] = pq.read_table(self.path / "parts" / p, columns=["key"]).column(0).to_pylist()
        self._index = {p: index[p] for p in on_disk}
        if missing or stale or not idx.is_file():
            self._rewrite_index()
        self._keys = {k for keys in self._index.values() for k in keys}

    def _rewrite_index(self) -> None:
        lines = [json.dumps({"part": p, "keys": k}) for p, k in self._index.items()]
        _atomic_write(self.path / "index.jsonl", ("\n".join(lines) + "\n" if lines else "").encode())

    def keys(self) -> set[str]:
        """Keys of every stored point."""
        return set(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    # ------------------------------------------------------------------ writing
    def append(self, rows: list[dict[str, Any]], replace: Collection[str] = ()) -> None:
        """Commit ``rows`` as one new part; a row whose key is already stored is skipped unless
        its key is in ``replace`` (a retried point: the newer row supersedes the stored one)."""
        rows = [r for r in rows if r["key"] not in self._keys or r["key"] in replace]
        if not rows:
            return
        name = self._next_part()
        self._write_part(name, rows)
        keys = [r["key"] for r in rows]
        with open(self.path / "index.jsonl", "a") as f:  # a cache: no fsync needed
            f.write(json.dumps({"part": name, "keys": keys}) + "\n")
        self._index[name] = keys
        self._keys.update(keys)

    def append_columns(self, columns: Mapping[str, Any], chunk_rows: int = 1 << 18,
                       replace: Collection[str] = ()) -> int:
        """Commit rows given as columns (name -> one value per row: a list or numpy array, in
        row order), in parts of up to ``chunk_rows`` rows, typed as ``append`` types rows; as
        ``append``, a row whose key is stored is skipped unless in ``replace``. Returns the
        number of rows written. (The vectorised sweep path writes 10^6 rows this way.)"""
        keys = list(columns["key"])
        keep = [i for i, k in enumerate(keys) if k not in self._keys or k in replace]
        if len(keep) != len(keys):
            columns = {n: [v[i] for i in keep] if isinstance(v, list) else v[keep]
                       for n, v in columns.items()}
            keys = [keys[i] for i in keep]
        schema = self._schema_of(list(columns))
        for lo in range(0, len(keys), chunk_rows):
            hi = min(len(keys), lo + chunk_rows)
            table = pa.table({n: pa.array(v[lo:hi], type=schema.field(n).type)
                              for n, v in columns.items()}, schema=schema)
            name = self._next_part()
            _atomic_write(self.path / "parts" / name, _encode(table))
            part_keys = keys[lo:hi]
            with open(self.path / "index.jsonl", "a") as f:  # a cache: no fsync needed
                f.write(json.dumps({"part": name, "keys": part_keys}) + "\n")
            self._index[name] = part_keys
            self._keys.update(part_keys)
        return len(keys)

    def _next_part(self) -> str:
        parts = self._parts()
        n = int(parts[-1][5:11]) + 1 if parts else 1
        return f"part-{n:06d}.parquet"

    def _write_part(self, name: str, rows: list[dict[str, Any]]) -> None:
        _atomic_write(self.path / "parts" / name, _encode(self._from_rows(rows)))

    def _from_rows(self, rows: list[dict[str, Any]]) -> pa.Table:
        """Rows as a table typed like every part: parameters by the manifest, metrics float64."""
        return pa.Table.from_pylist(rows, schema=self._schema(rows))

    def _schema(self, rows: list[dict[str, Any]]) -> pa.Schema:
        names: dict[str, None] = {}
        for r in rows:
            names.update(dict.fromkeys(r))
        return self._schema_of(list(names))

    def _schema_of(self, names: list[str]) -> pa.Schema:
        """The part schema of columns ``names``: parameters by the manifest, metrics float64."""
        params: dict[str, str] = self.manifest.get("param_types", {})
        fields = []
        for n in names:
            if n in _META_TYPES:
                t = _META_TYPES[n]
            elif n in META_COLUMNS:
                t = pa.string()
            elif n in params:
                t = _PARAM_TYPES[params[n]]
            else:
                t = pa.float64()  # metrics
            fields.append(pa.field(n, t))
        return pa.schema(fields)

    def compact(self) -> None:
        """Merge all parts into one (sorted); safe to interrupt at any point."""
        if len(self._index) <= 1:
            return
        table = self._table()
        self._replace_parts(_encode(table), table.column("key").to_pylist())

    def rewrite(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        """Replace every stored row by ``change(row)`` (same key), as one new part; returns the
        number of rows. As safe to interrupt as ``compact``: the new part is renamed into place
        before the old ones are deleted, and its rows win over theirs until then."""
        rows = [change(r) for r in self._table().to_pylist()]
        if not rows:
            return 0
        keys = [r["key"] for r in rows]
        if len(set(keys)) != len(keys):
            raise StoreError(f"{self.path}: a rewrite must keep one row per key")
        self._replace_parts(_encode(self._from_rows(rows)), keys)
        return len(rows)

    def _replace_parts(self, data: bytes, keys: list[str]) -> None:
        """Write ``data`` as the newest part, then drop every older part (crash-safe order)."""
        parts = list(self._index)
        name = self._next_part()
        _atomic_write(self.path / "parts" / name, data)
        self._index = {name: keys}
        self._rewrite_index()
        for p in parts:
            (self.path / "parts" / p).unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading
    def _table(self, columns: list[str] | None = None) -> pa.Table:
        """Every stored row, one per key (the newest), sorted by (point, key), columns in a
        fixed order (``columns``: only these, which must include point and key).

        A sweep compacting meanwhile may delete parts this reader listed; compaction writes the
        merged part first, so re-listing the directory and reading again always succeeds.
        """
        for attempt in range(3):
            try:
                # in part order (oldest first): ``_newest`` keeps each key's last row
                tables = [pq.read_table(self.path / "parts" / p, columns=columns)
                          for p in self._index]
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
                self._reconcile()
        if not tables:
            return pa.table({c: pa.array([], type=_META_TYPES.get(c, pa.string()))
                             for c in columns or META_COLUMNS})
        t = _newest(tables)
        t = t.sort_by([("point", "ascending"), ("key", "ascending")])
        return t.select(self._column_order(t.column_names))

    def failed_keys(self) -> set[str]:
        """Keys of stored points whose (newest) row has status "error"."""
        t = self._table(["point", "key", "status"])
        return {k for k, s in zip(t.column("key").to_pylist(), t.column("status").to_pylist())
                if s == "error"}

    def load(self, status: str | None = "ok", feasible: bool | None = None,
             columns: Iterable[str] | None = None) -> pd.DataFrame:
        """All stored rows as a DataFrame (``status=None``: failed points too); ``columns``:
        only these (those the store has; point, key, status and feasible always), which spares
        reading every row's config text from a large store."""
        want = None
        if columns is not None:
            present: set[str] = set()
            for p in self._index:
                present.update(pq.read_schema(self.path / "parts" / p).names)
            want = [c for c in dict.fromkeys(["point", "key", "status", "feasible", *columns])
                    if c in present] if present else None
        df = self._table(want).to_pandas()
        if status is not None:
            df = df[df["status"] == status].reset_index(drop=True)
        if feasible is not None:
            df = df[df["feasible"].astype(bool) == feasible].reset_index(drop=True)
        return df

    def _column_order(self, columns: Iterable[str]) -> list[str]:
        cols = list(columns)
        params = [p for p in self.manifest.get("param_types", {}) if p in cols]
        meta = [c for c in META_COLUMNS if c in cols and c != "config"]
        rest = sorted(c for c in cols if c not in params and c not in META_COLUMNS)
        return meta + params + rest + (["config"] if "config" in cols else [])

    def metric_columns(self) -> list[str]:
        """Names of the metric columns present in the store."""
        df_cols = set()
        for p in self._index:
            df_cols.update(pq.read_schema(self.path / "parts" / p).names)
        params = set(self.manifest.get("param_types", {}))
        return sorted(c for c in df_cols if c not in params and c not in META_COLUMNS)


def _newest(tables: list[pa.Table]) -> pa.Table:
    """The parts' rows (oldest part first) with only the last row of each key, and only the
    columns of the parts those rows come from (a superseded part's extra columns go too)."""
    t = pa.concat_tables(tables, promote_options="permissive")
    keys = t.column("key").to_pylist()
    last = {k: i for i, k in enumerate(keys)}
    if len(last) == len(keys):
        return t
    rows = sorted(last.values())
    ends = list(itertools.accumulate(len(p) for p in tables))
    names: set[str] = set()
    for j in {bisect.bisect_right(ends, i) for i in rows}:
        names.update(tables[j].column_names)
    t = t.take(pa.array(rows, type=pa.int64()))
    return t.select([c for c in t.column_names if c in names])


def load_results(path: str | Path, status: str | None = "ok") -> pd.DataFrame:
    """The rows of the store at ``path`` (successful points by default)."""
    return ResultStore(path).load(status=status)
