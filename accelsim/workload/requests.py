"""Serving request traces: a CSV format and a seeded generator of synthetic traces.

CSV (header required, one request per row, ``#`` comments allowed)::

    arrival_s,prompt_tokens,output_tokens
    0.000,161,338

``output_tokens`` counts every generated token, the first one (made by the prefill pass)
included, so it must be >= 1.

Synthetic traces draw prompt and output lengths independently from named distributions and
arrival times from a Poisson process (``rate`` requests/s; none: all arrive at t = 0, the
offline-throughput setting NeuPIMs uses). Length presets and where their numbers come from:

=================  ============  ============  ==================================================
preset             prompt mean   output mean   source
=================  ============  ============  ==================================================
sharegpt           161.31        337.99        vLLM (Kwon et al., SOSP'23) Fig. 11; its text:
                                               ShareGPT has 8.4x longer prompts, 5.8x longer
                                               outputs than Alpaca (161.31/19.31 = 8.35,
                                               337.99/58.45 = 5.78)
alpaca             19.31         58.45         vLLM Fig. 11
sharegpt-neupims   80            296           NeuPIMs (ASPLOS'24) Sec. 7 setup, as recorded in
                                               reference/papers/neupims.yaml (tag P)
alpaca-neupims     12            56            NeuPIMs, same place
=================  ============  ============  ==================================================

Only the means are published; the shape is an assumption: log-normal with coefficient of
variation ``LENGTH_CV`` (= 1.0, i.e. sigma_log = sqrt(ln 2) = 0.83), mean preserved
(mu_log = ln(mean) - sigma_log^2 / 2), rounded to integers, clipped to [1, max_prompt] and
[1, max_total - prompt] (defaults 1024 and 2048, as vLLM's serving benchmark filters ShareGPT).
``normal:P,Ps,O,Os`` gives Gaussian lengths (Duplex, MICRO'24, Sec. 6: "synthetic Gaussian
Lin/Lout"), ``fixed:P,O`` constant ones.
"""
from __future__ import annotations

import csv
import io
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.bounds import MAX_REQUESTS, MAX_TOKENS
from ..config.files import read_text
from ..errors import AccelsimError, ConfigError
from .llm import check_positive_int

LENGTH_CV = 1.0  # assumed coefficient of variation of the log-normal presets (not published)


@dataclass(frozen=True)
class Request:
    """One request: when it arrives, how long its prompt is, how many tokens it generates."""

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution: 'lognormal' (mean, cv), 'normal' (mean, std) or 'fixed'."""

    kind: str
    mean: float
    spread: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            x = np.full(n, self.mean)
        elif self.kind == "normal":
            x = rng.normal(self.mean, self.spread, n)
        else:  # lognormal with the given mean and coefficient of variation
            s2 = math.log1p(self.spread ** 2)
            x = rng.lognormal(math.log(self.mean) - s2 / 2, math.sqrt(s2), n)
        return np.rint(x).astype(np.int64)


PRESETS: dict[str, tuple[LengthDist, LengthDist, str]] = {
    "sharegpt": (LengthDist("lognormal", 161.31, LENGTH_CV), LengthDist("lognormal", 337.99, LENGTH_CV),
                 "vLLM (Kwon et al., SOSP'23) Fig. 11 means; log-normal shape assumed"),
    "alpaca": (LengthDist("lognormal", 19.31, LENGTH_CV), LengthDist("lognormal", 58.45, LENGTH_CV),
               "vLLM (Kwon et al., SOSP'23) Fig. 11 means; log-normal shape assumed"),
    "sharegpt-neupims": (LengthDist("lognormal", 80, LENGTH_CV), LengthDist("lognormal", 296, LENGTH_CV),
                         "NeuPIMs (ASPLOS'24) Sec. 7 averages; log-normal shape assumed"),
    "alpaca-neupims": (LengthDist("lognormal", 12, LENGTH_CV), LengthDist("lognormal", 56, LENGTH_CV),
                       "NeuPIMs (ASPLOS'24) Sec. 7 averages; log-normal shape assumed"),
}


def parse_dist(spec: str) -> tuple[LengthDist, LengthDist, str]:
    """A preset name, ``fixed:P,O`` or ``normal:Pmean,Pstd,Omean,Ostd``."""
    if spec in PRESETS:
        return PRESETS[spec]
    kind, _, args = spec.partition(":")
    try:
        vals = [float(v) for v in args.split(",")] if args else []
    except ValueError:
        vals = []
    if kind == "fixed" and len(vals) == 2 and min(vals) >= 1:
        return LengthDist("fixed", vals[0]), LengthDist("fixed", vals[1]), "fixed lengths"
    if kind == "normal" and len(vals) == 4 and vals[0] >= 1 and vals[2] >= 1 and min(vals) >= 0:
        return (LengthDist("normal", vals[0], vals[1]), LengthDist("normal", vals[2], vals[3]),
                "Gaussian lengths (Duplex-style)")
    raise AccelsimError(f"unknown length distribution {spec!r}; use one of {', '.join(PRESETS)}, "
                        f"'fixed:PROMPT,OUTPUT' or 'normal:PMEAN,PSTD,OMEAN,OSTD'")


def synth_requests(n: int, dist: str = "sharegpt", *, rate: float | None = None, seed: int = 0,
                   max_prompt: int = 1024, max_total: int = 2048) -> list[Request]:
    """``n`` synthetic requests (deterministic for a given seed)."""
    check_positive_int("the number of requests", n, MAX_REQUESTS)
    if rate is not None and not 0 < rate < math.inf:
        raise AccelsimError(f"rate must be a finite number > 0 requests/s, got {rate!r}")
    check_positive_int("max_total", max_total, MAX_TOKENS)
    if not 1 <= max_prompt < max_total:
        raise AccelsimError(f"need 1 <= max_prompt < max_total, got {max_prompt}, {max_total}")
    pin, pout, _ = parse_dist(dist)
    rng = np.random.default_rng(seed)
    prompts = np.clip(pin.sample(rng, n), 1, max_prompt)
    outputs = np.clip(pout.sample(rng, n), 1, max_total - prompts)
    if rate is None:
        arrivals = np.zeros(n)
    else:
        gaps = rng.exponential(1.0 / rate, n)
        gaps[0] = 0.0
        arrivals = np.cumsum(gaps)
    return [Request(i, float(round(a, 6)), int(p), int(o))
            for i, (a, p, o) in enumerate(zip(arrivals, prompts, outputs))]


def save_requests(requests: list[Request], path: str | Path) -> None:
    """Write the CSV form (``load_requests`` reads it back equal)."""
    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arrival_s", "prompt_tokens", "output_tokens"])
        for r in requests:
            w.writerow([f"{r.arrival_s:.6f}", r.prompt_tokens, r.output_tokens])


def load_requests(path: str | Path) -> list[Request]:
    """Read a request CSV; errors name the file, line and column."""
    cols = ("arrival_s", "prompt_tokens", "output_tokens")
    out: list[Request] = []
    text = read_text(path, what="a request CSV (arrival_s,prompt_tokens,output_tokens)")
    try:
        rows = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    except csv.Error as e:
        raise ConfigError(f"not a readable CSV: {e}", file=str(path)) from None
    if not rows:
        raise ConfigError("no requests found", file=str(path))
    header = [c.strip() for c in rows[0][1]]
    if header != list(cols):
        raise ConfigError(f"the header must be {','.join(cols)}, got {','.join(header)}",
                          file=str(path), line=rows[0][0])
    for line, row in rows[1:]:
        if len(row) != 3:
            raise ConfigError(f"expected 3 values ({', '.join(cols)}), got {len(row)}",
                              file=str(path), line=line)
        try:
            arrival = float(row[0])
            prompt, output = int(row[1]), int(row[2])
        except ValueError:
            raise ConfigError(f"bad number in {','.join(row)!r}", file=str(path), line=line) from None
        for key, v, lo in (("arrival_s", arrival, 0), ("prompt_tokens", prompt, 1),
                           ("output_tokens", output, 1)):
            if not (math.isfinite(v) and v >= lo):
                raise ConfigError(f"must be >= {lo}, got {v}", file=str(path), line=line,
                                  key_path=key)
            if key != "arrival_s" and v > MAX_TOKENS:
                raise ConfigError(f"must be at most {MAX_TOKENS:,}, got {v:,}", file=str(path),
                                  line=line, key_path=key)
        out.append(Request(len(out), arrival, prompt, output))
        if len(out) > MAX_REQUESTS:
            raise ConfigError(f"more than the {MAX_REQUESTS:,} requests accelsim simulates in "
                              f"one trace (MAX_REQUESTS)", file=str(path), line=line)
    return out


def check_requests(requests: "list[Request] | tuple[Request, ...]") -> None:
    """AccelsimError unless there are at most MAX_REQUESTS requests, each with finite arrival
    time >= 0 and 1 to MAX_TOKENS prompt and output tokens (requests made in Python)."""
    if len(requests) > MAX_REQUESTS:
        raise AccelsimError(f"{len(requests):,} requests, more than the {MAX_REQUESTS:,} "
                            f"accelsim simulates in one trace (MAX_REQUESTS)")
    for r in requests:
        if not (isinstance(r.arrival_s, numbers.Real) and 0 <= r.arrival_s < math.inf):
            raise AccelsimError(f"request {r.id}: arrival_s must be a finite number >= 0, got "
                                f"{r.arrival_s!r}")
        for what, v in (("prompt_tokens", r.prompt_tokens), ("output_tokens", r.output_tokens)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or \
                    not 1 <= v <= MAX_TOKENS:
                raise AccelsimError(f"request {r.id}: {what} must be an integer from 1 to "
                                    f"{MAX_TOKENS:,}, got {v!r}")
