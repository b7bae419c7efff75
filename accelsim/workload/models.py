"""Model configs: Hugging Face ``config.json`` files parsed into one normalised ``ModelConfig``.

Supported families (``model_type``): ``llama`` and ``mistral`` (pre-RMSNorm, RoPE, gated SwiGLU
FFN, grouped-query attention; BitNet b1.58 checkpoints use ``llama`` too), ``mixtral`` (the same
with a top-k mixture-of-experts FFN), ``opt`` (pre-LayerNorm, learned positions with an offset
of 2, ReLU FFN, biases) and ``gpt2`` (the GPT-3 family as NeuPIMs models it: LayerNorm, learned
positions, GELU FFN of ``n_inner`` = 4 d, biases, tied embeddings).

The zoo is the set of ``*.json`` files in ``workloads/models/`` (override the folder with the
``ACCELSIM_MODELS_DIR`` environment variable); ``workloads/models/README.md`` cites each source.
Besides zoo names, ``load_model`` takes a ``config.json``, a model folder holding one, or the id
of a model already in the local Hugging Face cache (``HF_HOME``; nothing is downloaded).
"""
from __future__ import annotations

import functools
import os
import re
import site
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import SourceDoc, load_yaml, suggest
from ..config.bounds import MAX_HEAD_DIM, MAX_MODEL_DIM, MAX_REPEAT, MAX_TOKENS
from ..errors import AccelsimError, ConfigError

FAMILIES = ("llama", "mistral", "mixtral", "opt", "gpt2", "glam")
_ACTS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu", "gelu_new": "gelu",
         "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu"}


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a decoder-only transformer, normalised across families (hashable)."""

    name: str
    family: str                  # llama | mistral | mixtral | opt | gpt2 | glam
    hidden: int                  # d
    layers: int                  # L
    heads: int                   # H
    kv_heads: int                # KV (== H without grouped-query attention)
    head_dim: int                # hd
    ffn: int                     # f (per expert for MoE)
    vocab: int                   # V
    max_pos: int
    gated: bool                  # SwiGLU-style gate * up (3 FFN matrices) vs plain (2)
    act: str                     # vector op of the FFN activation: silu | relu | gelu
    norm: str                    # rmsnorm | layernorm
    attn_bias: bool              # biases on q, k, v, o
    mlp_bias: bool               # biases on the FFN matrices
    rope: bool                   # rotary (True) or learned absolute positions (False)
    pos_offset: int = 0          # learned-position rows beyond max_pos (OPT: 2)
    tied: bool = False           # LM head shares the embedding matrix
    experts: int = 0             # 0: dense FFN
    top_k: int = 0
    moe_step: int = 1            # MoE FFN on layers i with (i + 1) % moe_step == 0, dense else
    embed_dim: int = 0           # OPT word_embed_proj_dim (0: same as hidden)
    native_weight_bits: float = 16
    native_act_dtype: str = "bf16"
    source: str = ""

    @property
    def d_embed(self) -> int:
        return self.embed_dim or self.hidden

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    def is_moe_layer(self, i: int) -> bool:
        """Whether decoder layer ``i`` (from 0) has the MoE FFN (HF Qwen2-MoE's
        ``decoder_sparse_step`` rule: (i + 1) % step == 0; GLaM: every other layer)."""
        return self.is_moe and (i + 1) % self.moe_step == 0

    @property
    def moe_layers(self) -> int:
        return sum(self.is_moe_layer(i) for i in range(self.layers))


# -- parameter counts ------------------------------------------------------------------------

def layer_params(c: ModelConfig, active: bool = False, moe: bool | None = None) -> int:
    """Parameters of one decoder layer (``active``: only the top-k experts a token uses;
    ``moe``: an MoE layer or a dense one, default the model's kind)."""
    d, hd = c.hidden, c.head_dim
    q, kv = c.heads * hd, c.kv_heads * hd
    attn = d * (q + 2 * kv) + q * d + ((q + 2 * kv + d) if c.attn_bias else 0)
    n_mat = 3 if c.gated else 2
    expert = n_mat * d * c.ffn + (((n_mat - 1) * c.ffn + d) if c.mlp_bias else 0)
    if c.is_moe if moe is None else moe:
        ffn = (c.top_k if active else c.experts) * expert + c.experts * d  # + router
    else:
        ffn = expert
    norms = 2 * d if c.norm == "rmsnorm" else 4 * d
    return attn + ffn + norms


def embedding_params(c: ModelConfig) -> int:
    """Token (and learned position) embeddings, OPT's projections, final norm, LM head."""
    n = c.vocab * c.d_embed
    if not c.rope:
        n += (c.max_pos + c.pos_offset) * c.hidden
    if c.embed_dim and c.embed_dim != c.hidden:
        n += 2 * c.hidden * c.embed_dim  # project_in, project_out (no bias)
    n += c.hidden if c.norm == "rmsnorm" else 2 * c.hidden
    if not c.tied:
        n += c.vocab * c.d_embed
    return n


def param_count(c: ModelConfig, active: bool = False) -> int:
    """Total parameters (as ``model.num_parameters()`` counts them), or active per token."""
    moe = c.moe_layers
    return (moe * layer_params(c, active, True) + (c.layers - moe) * layer_params(c, active, False)
            + embedding_params(c))


# -- the zoo ---------------------------------------------------------------------------------

_SOURCE_MODELS_DIR = Path(__file__).resolve().parents[2] / "workloads" / "models"
#: where a wheel puts its copy of the zoo (``data_files`` in setup.py)
_INSTALLED_MODELS_DIRS = tuple(Path(p) / "share" / "accelsim" / "models"
                               for p in dict.fromkeys((sys.prefix, site.USER_BASE or sys.prefix)))


def models_dir() -> Path:
    """The zoo folder: ``$ACCELSIM_MODELS_DIR``, else ``workloads/models`` of this source tree
    (editable installs), else the copy a wheel installed under ``<prefix>/share/accelsim``."""
    env = os.environ.get("ACCELSIM_MODELS_DIR")
    if env:
        return Path(env)
    for d in (_SOURCE_MODELS_DIR, *_INSTALLED_MODELS_DIRS):
        if d.is_dir():
            return d
    return _SOURCE_MODELS_DIR


def list_models() -> list[str]:
    """Names of the zoo models (the ``*.json`` files of ``models_dir()``), sorted."""
    return list(_names(models_dir()))


def _names(d: Path) -> tuple[str, ...]:
    """Sorted zoo names in folder ``d`` (empty if it is not a folder)."""
    try:
        st = d.stat()
    except OSError:
        return ()
    if not stat.S_ISDIR(st.st_mode):
        return ()
    if time.time_ns() - st.st_mtime_ns < 2_000_000_000:  # "racy" mtime (coarse clock): rescan
        return _scan(str(d))
    return _list_cached(str(d), st.st_mtime_ns)


def _scan(folder: str) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in Path(folder).glob("*.json")))


@functools.lru_cache(maxsize=16)
def _list_cached(folder: str, mtime_ns: int) -> tuple[str, ...]:
    """The folder's listing, memoised on its mtime (adding or removing a file changes it), so
    that ``load_model`` in a sweep's inner loop costs a stat, not a directory scan. Folders
    changed in the last 2 s are rescanned instead, as file-system timestamps are coarse."""
    return _scan(folder)


def load_model(ref: "str | Path | ModelConfig") -> ModelConfig:
    """A zoo name, a path to a ``config.json``, a model folder holding a ``config.json``, a
    Hugging Face model id present in the local HF cache (``ORG/NAME``; no network), or a
    ModelConfig (returned as is)."""
    if isinstance(ref, ModelConfig):
        return ref
    ref_s = str(ref)
    d = models_dir()
    zoo_file = d / f"{ref_s}.json"
    if ref_s in _names(d):
        return _load_cached(str(zoo_file), zoo_file.stat().st_mtime_ns, ref_s)
    p = Path(ref_s)
    if p.is_file():
        return _load_cached(str(p), p.stat().st_mtime_ns, None)
    if p.is_dir():
        cfg = p / "config.json"
        if not cfg.is_file():
            raise ConfigError("is a folder without a config.json (expected a Hugging Face "
                              "model folder)", file=ref_s)
        return _load_cached(str(cfg), cfg.stat().st_mtime_ns, p.resolve().name or None)
    found, looked = hf_cache_config(ref_s)
    if found is not None:
        return _load_cached(str(found), found.stat().st_mtime_ns, ref_s.rsplit("/", 1)[-1])
    where = f"; not in the Hugging Face cache either (looked for {looked})" if looked else ""
    if p.suffix.lower() == ".json" or os.sep in ref_s or "/" in ref_s:
        raise ConfigError(f"file not found (nor a model folder){where}", file=ref_s)
    names = list_models()
    raise AccelsimError(f"unknown model {ref_s!r}{suggest(ref_s, names)}: not a zoo model, a "
                        f"file or a model folder{where}. Zoo models: {', '.join(names)}; or give "
                        f"a Hugging Face config.json, a folder holding one, or the id of a model "
                        f"in the local Hugging Face cache")


#: a Hugging Face model id: NAME or ORG/NAME (letters, digits, '-', '_', '.')
_HF_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub finds it: ``$HF_HUB_CACHE``, else
    ``$HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``,
    else ``~/.cache/huggingface/hub``."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hf_cache_config(model_id: str) -> "tuple[Path | None, str | None]":
    """(the cached ``config.json`` of ``model_id``, where it was looked for), reading only the
    local cache: ``<cache>/models--ORG--NAME/snapshots/<revision>/config.json``, the revision
    ``refs/main`` names, else the newest snapshot. (None, None) if ``model_id`` is not an id."""
    if not _HF_ID.match(model_id) or model_id.endswith((".json", ".yaml", ".yml", ".csv")):
        return None, None
    repo = hf_cache_dir() / ("models--" + model_id.replace("/", "--"))
    looked = str(repo / "snapshots" / "*" / "config.json")
    snaps = repo / "snapshots"
    try:
        main = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        main = ""
    candidates = []
    if main and re.fullmatch(r"[0-9a-fA-F]{6,64}", main):
        candidates.append(snaps / main / "config.json")
    try:
        others = sorted((c for c in snaps.glob("*/config.json")), reverse=True,
                        key=lambda c: c.parent.stat().st_mtime_ns)
    except OSError:
        others = []
    for c in candidates + others:
        if c.is_file():
            return c, looked
    return None, looked


@functools.lru_cache(maxsize=256)
def _load_cached(path: str, mtime_ns: int, name: str | None) -> ModelConfig:
    doc = load_yaml(path)  # JSON is YAML; keeps line numbers for errors
    return parse_config(doc, name=name or _default_name(path))


def _default_name(path: str) -> str:
    """``dir/config.json`` is named after ``dir``; any other file after its stem."""
    p = Path(path)
    return p.parent.name if p.name == "config.json" and p.parent.name else p.stem


def parse_config(doc: "SourceDoc | dict", name: str = "model") -> ModelConfig:
    """Normalise a Hugging Face config (a loaded document or a plain dict) into a ModelConfig."""
    if not isinstance(doc, SourceDoc):
        doc = SourceDoc(data=dict(doc), file=f"<{name}>")
    return _Parser(doc).parse(name)


#: upper bounds of config integers (``accelsim.config.bounds``); any other: MAX_MODEL_DIM
_BOUNDS = {"head_dim": MAX_HEAD_DIM, "max_position_embeddings": MAX_TOKENS,
           "n_positions": MAX_TOKENS, "num_hidden_layers": MAX_REPEAT, "n_layer": MAX_REPEAT}


class _Parser:
    """Reads keys with defaults and raises ConfigErrors that name the file, line and key."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc, self.data = doc, doc.data

    def fail(self, key: str, msg: str) -> ConfigError:
        file, line = self.doc.origin((key,))
        return ConfigError(msg, file=file or self.doc.file, line=line, key_path=key)

    def int(self, key: str, default: object = ..., *, alt: tuple[str, ...] = ()) -> int:
        for k in (key, *alt):
            if k in self.data and self.data[k] is not None:
                key = k
                break
        else:
            if default is ...:
                raise self.fail(key, f"missing required key {key!r} for model_type "
                                     f"{self.data.get('model_type')!r}")
            return default  # type: ignore[return-value]
        v = self.data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise self.fail(key, f"must be a positive integer, got {_shown(v)}")
        bound = _BOUNDS.get(key, MAX_MODEL_DIM)
        if v > bound:
            raise self.fail(key, f"must be at most {bound:,}, got {v:,}")
        return v

    def bool(self, key: str, default: bool) -> bool:
        v = self.data.get(key, default)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.fail(key, f"must be true or false, got {_shown(v)}")
        return v

    def num(self, key: str, default: float) -> float:
        v = self.data.get(key, default)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e6:
            raise self.fail(key, f"must be a positive number, got {_shown(v)}")
        return v

    def act(self, key: str, default: str) -> str:
        v = self.data.get(key) or default
        if not isinstance(v, str):
            raise self.fail(key, f"must be the name of an activation function, got "
                                 f"{_shown(v)}")
        if v not in _ACTS:
            raise self.fail(key, f"unsupported activation {v!r}{suggest(str(v), _ACTS)}; "
                                 f"supported: {', '.join(_ACTS)}")
        return _ACTS[v]

    def parse(self, name: str) -> ModelConfig:
        if not isinstance(self.data, dict):
            raise ConfigError("a model config must be a JSON object", file=self.doc.file)
        mt = self.data.get("model_type")
        if mt is not None and not isinstance(mt, str):
            raise self.fail("model_type", f"must be a model family name, got {_shown(mt)}; "
                                          f"supported: {', '.join(FAMILIES)}")
        if mt is None:
            raise self.fail("model_type", f"missing required key 'model_type'; supported: "
                                          f"{', '.join(FAMILIES)}")
        if mt not in FAMILIES:
            raise self.fail("model_type", f"unsupported model_type {mt!r}{suggest(str(mt), FAMILIES)}"
                                          f"; supported: {', '.join(FAMILIES)}")
        fields = {"opt": self._opt, "gpt2": self._gpt2, "glam": self._glam}.get(mt, self._llama)()
        return ModelConfig(name=name, family=mt, source=self.doc.file, **fields)

    def _heads(self, hidden: int, heads_key: str, kv_key: str | None) -> dict:
        heads = self.int(heads_key)
        kv = self.int(kv_key, heads) if kv_key else heads
        hd = self.int("head_dim", 0)
        if not hd:
            if hidden % heads:
                raise self.fail(heads_key, f"{heads_key} ({heads}) must divide the hidden size "
                                           f"({hidden})")
            hd = hidden // heads
        if heads % kv:
            raise self.fail(kv_key or heads_key, f"{kv_key} ({kv}) must divide "
                                                 f"{heads_key} ({heads})")
        return {"heads": heads, "kv_heads": kv, "head_dim": hd}

    def _llama(self) -> dict:
        d = self.int("hidden_size")
        out = dict(hidden=d, layers=self.int("num_hidden_layers"),
                   **self._heads(d, "num_attention_heads", "num_key_value_heads"),
                   ffn=self.int("intermediate_size"), vocab=self.int("vocab_size"),
                   max_pos=self.int("max_position_embeddings", 2048),
                   gated=True, act=self.act("hidden_act", "silu"), norm="rmsnorm",
                   attn_bias=self.bool("attention_bias", False), mlp_bias=self.bool("mlp_bias", False),
                   rope=True, tied=self.bool("tie_word_embeddings", False))
        if self.data.get("model_type") == "mixtral":
            experts = self.int("num_local_experts")
            top_k = self.int("num_experts_per_tok")
            if top_k > experts:
                raise self.fail("num_experts_per_tok", f"num_experts_per_tok ({top_k}) must not "
                                                       f"exceed num_local_experts ({experts})")
            out.update(experts=experts, top_k=top_k)
        archs = self.data.get("architectures") or []
        if isinstance(archs, str):
            archs = [archs]
        if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
            raise self.fail("architectures", f"must be a list of class names, got "
                                             f"{_shown(archs)}")
        if any("bitnet" in a.lower() for a in archs):
            # 1bitLLM's BitNet b1.58 reproductions: "weight_bits": 1 labels ternary {-1, 0, 1}
            # weights (log2 3 = 1.58 bits), "input_bits": 8 the absmax int8 activations
            # (Ma et al., "The Era of 1-bit LLMs", arXiv 2402.17764, Sec. 2).
            bits = self.num("weight_bits", 1)
            out["native_weight_bits"] = 1.58 if bits == 1 else float(bits)
            out["native_act_dtype"] = "int8" if self.num("input_bits", 8) == 8 else "bf16"
        return out

    def _glam(self) -> dict:
        """GLaM (Du et al., ICML 2022) as Duplex models it: no Hugging Face class; Mixtral's
        keys plus ``decoder_sparse_step`` (MoE every n-th layer) and ungated GELU experts."""
        out = self._llama()
        out.update(gated=False, act=self.act("hidden_act", "gelu"),
                   experts=self.int("num_local_experts"), top_k=self.int("num_experts_per_tok"),
                   moe_step=self.int("decoder_sparse_step", 1))
        if out["top_k"] > out["experts"]:
            raise self.fail("num_experts_per_tok", "num_experts_per_tok must not exceed "
                                                   "num_local_experts")
        return out

    def _opt(self) -> dict:
        d = self.int("hidden_size")
        embed = self.int("word_embed_proj_dim", d)
        bias = self.bool("enable_bias", True)
        return dict(hidden=d, layers=self.int("num_hidden_layers"),
                    **self._heads(d, "num_attention_heads", None),
                    ffn=self.int("ffn_dim"), vocab=self.int("vocab_size"),
                    max_pos=self.int("max_position_embeddings", 2048), pos_offset=2,
                    gated=False, act=self.act("activation_function", "relu"), norm="layernorm",
                    attn_bias=bias, mlp_bias=bias, rope=False,
                    tied=self.bool("tie_word_embeddings", True),
                    embed_dim=embed if embed != d else 0)

    def _gpt2(self) -> dict:
        d = self.int("n_embd", alt=("hidden_size",))
        return dict(hidden=d, layers=self.int("n_layer", alt=("num_hidden_layers",)),
                    **self._heads(d, "n_head", None),
                    ffn=self.int("n_inner", 4 * d), vocab=self.int("vocab_size"),
                    max_pos=self.int("n_positions", 1024), gated=False,
                    act=self.act("activation_function", "gelu_new"), norm="layernorm",
                    attn_bias=True, mlp_bias=True, rope=False,
                    tied=self.bool("tie_word_embeddings", True))


def _shown(value: object, limit: int = 60) -> str:
    """A short rendering of a bad value (never a whole file's worth)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
