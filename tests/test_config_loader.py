"""Tests for accelsim.config: line tracking, extends, overrides and located validation errors."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from accelsim.config import (SourceDoc, load_config, load_document, load_yaml, parse_override,
                             suggest, validate)
from accelsim.errors import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sram(Strict):
    kb: int = Field(gt=0)
    banks: int = 1


class Systolic(Strict):
    type: Literal["systolic"] = "systolic"
    rows: int = Field(gt=0)
    cols: int = Field(8, gt=0)
    sram: Sram | None = None


class Vector(Strict):
    type: Literal["vector"]
    lanes: int


Unit = Annotated[Union[Systolic, Vector], Field(discriminator="type")]


class Axis(Strict):
    name: str
    values: list[int]


class Arch(Strict):
    name: str
    clock_ghz: float = 1.0
    units: dict[str, Unit] = {}
    axes: list[Axis] = []
    mode: Literal["fast", "exact"] = "fast"
    limit: float | Literal["auto"] = "auto"


class Plain(Strict):
    """Non-discriminated union, to check that errors pick the plausible member."""
    unit: Systolic | Vector


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def config_error(model, path, overrides=()) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_config(model, path, overrides)
    return exc.value


# --------------------------------------------------------------------------- load_yaml

def test_lines_for_nested_keys_sequences_and_flow_style(tmp_path):
    p = write(tmp_path, "a.yaml", (
        "# comment\n"             # 1
        "name: x\n"               # 2
        "units:\n"                # 3
        "  sa:\n"                 # 4
        "    rows: 4\n"           # 5
        "    sram: {kb: 1,\n"     # 6
        "           banks: 2}\n"  # 7
        "axes:\n"                 # 8
        "  - name: a\n"           # 9
        "    values: [1,\n"       # 10
        "      2]\n"              # 11
        "  -\n"                   # 12
        "    name: b\n"           # 13
    ))
    doc = load_yaml(p)
    assert doc.file == str(p)
    assert doc.data["units"]["sa"]["sram"] == {"kb": 1, "banks": 2}
    assert doc.origin(("name",)) == (str(p), 2)
    assert doc.origin(("units", "sa", "rows")) == (str(p), 5)
    assert doc.origin(("units", "sa", "sram", "kb")) == (str(p), 6)
    assert doc.origin(("units", "sa", "sram", "banks")) == (str(p), 7)
    assert doc.origin(("axes", 0)) == (str(p), 9)
    assert doc.origin(("axes", 0, "values", 1)) == (str(p), 11)
    assert doc.origin(("axes", 1, "name")) == (str(p), 13)
    # unknown paths fall back to the longest known prefix
    assert doc.origin(("units", "sa", "nope", "deeper")) == (str(p), 4)
    assert doc.origin(()) == (str(p), None)


def test_anchors_aliases_and_merge_keys(tmp_path):
    p = write(tmp_path, "a.yaml", (
        "base: &b\n"          # 1
        "  rows: 4\n"         # 2
        "  cols: 4\n"         # 3
        "u1: *b\n"            # 4
        "u2:\n"               # 5
        "  <<: *b\n"          # 6
        "  cols: 8\n"         # 7
    ))
    doc = load_yaml(p)
    assert doc.data == {"base": {"rows": 4, "cols": 4}, "u1": {"rows": 4, "cols": 4},
                        "u2": {"rows": 4, "cols": 8}}
    assert doc.data["u1"] is not doc.data["base"]  # un-shared: editing one leaves the other
    assert doc.origin(("u2", "cols")) == (str(p), 7)
    assert doc.origin(("u2", "rows")) == (str(p), 2)  # where the merged value was written
    assert doc.origin(("u1", "cols")) == (str(p), 3)


def test_missing_file():
    with pytest.raises(ConfigError) as exc:
        load_yaml("nope/missing.yaml")
    assert exc.value.file == "nope/missing.yaml"
    assert str(exc.value) == "nope/missing.yaml: file not found"


def test_yaml_syntax_error_has_line(tmp_path):
    p = write(tmp_path, "bad.yaml", "name: x\nunits:\n  sa: {rows: 4\n  other: 1\nlast: [\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(p)
    assert (exc.value.file, exc.value.line) == (str(p), 4)
    assert str(exc.value) == (f"{p}:4: YAML syntax error: while parsing a flow mapping, "
                              f"expected ',' or '}}', but got ':'")
    p2 = write(tmp_path, "bad2.yaml", "a: 1\nb: c: d\n")
    with pytest.raises(ConfigError, match=r"bad2.yaml:2: YAML syntax error: mapping values"):
        load_yaml(p2)


def test_duplicate_key_names_key_and_line(tmp_path):
    p = write(tmp_path, "dup.yaml", "name: x\nunits:\n  sa:\n    rows: 1\n    rows: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(p)
    assert str(exc.value) == (f"{p}:5 units.sa.rows: duplicate key 'rows' "
                              f"(first defined on line 4)")
    flow = write(tmp_path, "dup2.yaml", "a: {x: 1, x: 2}\n")
    with pytest.raises(ConfigError, match="duplicate key 'x'"):
        load_yaml(flow)


@pytest.mark.parametrize("text, expect", [
    ("- a\n- b\n", "top level must be a mapping"),
    ("just a string\n", "top level must be a mapping"),
    ("", "file is empty"),
    ("# only a comment\n", "file is empty"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
])
def test_top_level_must_be_one_mapping(tmp_path, text, expect):
    p = write(tmp_path, "t.yaml", text)
    with pytest.raises(ConfigError, match=expect) as exc:
        load_yaml(p)
    assert exc.value.file == str(p)


def test_undecodable_file_and_json(tmp_path):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not readable as YAML") as exc:
        load_yaml(p)
    assert exc.value.file == str(p)
    j = write(tmp_path, "c.json", '{"name": "x",\n "units": {"sa": {"type": "systolic", "rows": 0}}}')
    assert str(config_error(Arch, j)) == f"{j}:2 units.sa.rows: Input should be greater than 0, got 0"


def test_recursive_alias_is_an_error_not_a_hang(tmp_path):
    p = write(tmp_path, "r.yaml", "a: &x\n  b: *x\n")
    with pytest.raises(ConfigError, match="recursive alias"):
        load_yaml(p)


# --------------------------------------------------------------------------- validation

def test_bad_value_names_file_line_key_and_value(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n  sa:\n    type: systolic\n    rows: -4\n")
    err = config_error(Arch, p)
    assert str(err) == f"{p}:5 units.sa.rows: Input should be greater than 0, got -4"
    assert (err.file, err.line, err.key_path) == (str(p), 5, "units.sa.rows")
    assert len(err.problems) == 1


def test_unknown_key_did_you_mean(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n  sa:\n    type: systolic\n    rowz: 4\n")
    err = config_error(Arch, p)
    assert f"{p}:5 units.sa.rowz: unknown key 'rowz'; did you mean 'rows'?" in problems_of(err)


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nzzzzzz: 1\n")
    err = config_error(Arch, p)
    assert str(err) == (f"{p}:2 zzzzzz: unknown key 'zzzzzz'; valid keys: 'axes', 'clock_ghz', "
                        f"'limit', 'mode', 'name', 'units'")


def test_missing_key_is_located_at_parent_mapping(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n  sa:\n    type: systolic\n    cols: 4\n")
    err = config_error(Arch, p)
    assert str(err) == f"{p}:3 units.sa.rows: missing required key 'rows'"
    p2 = write(tmp_path, "y.yaml", "units: {}\n")
    assert str(config_error(Arch, p2)) == f"{p2} name: missing required key 'name'"


def test_several_problems_reported_together(tmp_path):
    p = write(tmp_path, "x.yaml", (
        "name: x\n"                 # 1
        "clock_ghz: fast\n"         # 2
        "units:\n"                  # 3
        "  sa:\n"                   # 4
        "    rows: 0\n"             # 5
        "    colz: 3\n"             # 6
        "    type: systolic\n"      # 7
        "axes:\n"                   # 8
        "  - {name: a, values: [1, two]}\n"  # 9
        "mode: exakt\n"             # 10
    ))
    err = config_error(Arch, p)
    assert problems_of(err) == [
        f"{p}:2 clock_ghz: Input should be a valid number, unable to parse string as a number, "
        f"got 'fast'",
        f"{p}:5 units.sa.rows: Input should be greater than 0, got 0",
        f"{p}:6 units.sa.colz: unknown key 'colz'; did you mean 'cols'?",
        f"{p}:9 axes.0.values.1: Input should be a valid integer, unable to parse string as an "
        f"integer, got 'two'",
        f"{p}:10 mode: Input should be 'fast' or 'exact', got 'exakt'; did you mean 'exact'?",
    ]
    assert str(err) == "\n".join(problems_of(err))


def test_discriminated_union_errors(tmp_path):
    p = write(tmp_path, "x.yaml", (
        "name: x\n"
        "units:\n"
        "  a: {type: vectr, lanes: 4}\n"   # 3
        "  b:\n"                           # 4
        "    lanes: 4\n"
        "  c:\n"                           # 6
        "    type: vector\n"
        "    lanes: 4\n"
        "    rows: 2\n"                    # 9
        "  d: 7\n"                         # 10
    ))
    assert problems_of(config_error(Arch, p)) == [
        f"{p}:3 units.a.type: unknown type 'vectr'; did you mean 'vector'? "
        f"(expected one of: 'systolic', 'vector')",
        f"{p}:4 units.b.type: missing required key 'type'",
        f"{p}:9 units.c.rows: unknown key 'rows'; valid keys: 'lanes', 'type'",
        f"{p}:10 units.d: Input should be a mapping of key: value pairs, got 7",
    ]


def test_plain_union_reports_the_plausible_member_only(tmp_path):
    p = write(tmp_path, "x.yaml", "unit:\n  rows: 4\n  colz: 2\n")
    assert problems_of(config_error(Plain, p)) == [
        f"{p}:3 unit.colz: unknown key 'colz'; did you mean 'cols'?"]
    p2 = write(tmp_path, "y.yaml", "unit: 5\n")
    assert str(config_error(Plain, p2)) == (
        f"{p2}:1 unit: Input should be a mapping of key: value pairs, got 5")


def test_scalar_union_errors_are_merged(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nlimit: lots\n")
    assert str(config_error(Arch, p)) == (
        f"{p}:2 limit: Input should be a valid number or 'auto', got 'lots'")


def test_custom_validator_message_is_kept(tmp_path):
    class Even(Strict):
        n: int

        @field_validator("n")
        @classmethod
        def _even(cls, v: int) -> int:
            if v % 2:
                raise ValueError("n must be even")
            return v

    p = write(tmp_path, "x.yaml", "n: 3\n")
    assert str(config_error(Even, p)) == f"{p}:1 n: n must be even, got 3"


def test_validate_with_prefix_locates_in_the_whole_document(tmp_path):
    p = write(tmp_path, "x.yaml", "meta: 1\nhw:\n  sa:\n    rows: -1\n")
    doc = load_yaml(p)
    with pytest.raises(ConfigError) as exc:
        validate(Systolic, doc.data["hw"]["sa"], doc, ("hw", "sa"))
    assert str(exc.value) == f"{p}:4 hw.sa.rows: Input should be greater than 0, got -1"
    ok = validate(Systolic, {"rows": 2}, doc, ("hw", "sa"))
    assert isinstance(ok, Systolic) and ok.rows == 2


def test_suggest():
    assert suggest("rowz", ["cols", "rows"]) == "; did you mean 'rows'?"
    assert suggest("qqq", ["cols", "rows"]) == ""
    assert suggest("x", []) == ""


# --------------------------------------------------------------------------- extends

def test_extends_relative_child_wins_and_origins_kept(tmp_path):
    base = write(tmp_path, "base/base.yaml", (
        "name: base\n"          # 1
        "units:\n"              # 2
        "  sa:\n"               # 3
        "    type: systolic\n"  # 4
        "    rows: 4\n"         # 5
        "    cols: 4\n"         # 5
        "axes:\n"               # 6
        "  - {name: a, values: [1]}\n"
        "  - {name: b, values: [2]}\n"
    ))
    child = write(tmp_path, "cfg/child.yaml", (
        "extends: ../base/base.yaml\n"  # 1
        "units:\n"                      # 2
        "  sa:\n"                       # 3
        "    cols: -8\n"                # 4
        "axes:\n"                       # 5
        "  - {name: c, values: [3]}\n"  # 6
    ))
    doc = load_document(child)
    assert doc.file == str(child)
    assert "extends" not in doc.data
    assert doc.data == {"name": "base", "units": {"sa": {"type": "systolic", "rows": 4,
                                                          "cols": -8}},
                        "axes": [{"name": "c", "values": [3]}]}  # lists are replaced
    parent_file = str(Path(child.parent, "../base/base.yaml")).replace("/cfg/../", "/")
    assert doc.origin(("units", "sa", "rows")) == (parent_file, 5)
    assert doc.origin(("name",)) == (parent_file, 1)
    assert doc.origin(("units", "sa", "cols")) == (str(child), 4)
    assert doc.origin(("axes", 0, "name")) == (str(child), 6)
    assert doc.origin(("axes", 1)) == (str(child), 5)  # parent's 2nd item is gone
    assert str(config_error(Arch, child)) == (
        f"{child}:4 units.sa.cols: Input should be greater than 0, got -8")
    # an error in a key that came from the parent points into the parent
    write(tmp_path, "cfg/c2.yaml", "extends: ../base/base.yaml\nname: c2\n")
    base.write_text(base.read_text().replace("rows: 4", "rows: -4"))
    assert str(config_error(Arch, tmp_path / "cfg/c2.yaml")) == (
        f"{parent_file}:5 units.sa.rows: Input should be greater than 0, got -4")


def test_extends_list_later_parent_wins_and_chains(tmp_path):
    write(tmp_path, "a.yaml", "name: a\nclock_ghz: 1.0\nmode: exact\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\nclock_ghz: 2.0\n")
    write(tmp_path, "c.yaml", "name: c\n")
    child = write(tmp_path, "d.yaml", "extends: [b.yaml, c.yaml]\nclock_ghz: 3.0\n")
    cfg, doc = load_config(Arch, child)
    assert (cfg.name, cfg.clock_ghz, cfg.mode) == ("c", 3.0, "exact")
    assert doc.origin(("mode",)) == (str(tmp_path / "a.yaml"), 3)
    assert doc.origin(("name",)) == (str(tmp_path / "c.yaml"), 1)


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends cycle") as exc:
        load_document(tmp_path / "a.yaml")
    assert exc.value.file == str(tmp_path / "b.yaml")
    assert exc.value.line == 2 and exc.value.key_path == "extends"
    write(tmp_path, "self.yaml", "extends: self.yaml\n")
    with pytest.raises(ConfigError, match="extends cycle"):
        load_document(tmp_path / "self.yaml")


@pytest.mark.parametrize("text, expect", [
    ("extends: gone.yaml\n", "parent file not found"),
    ("extends: 5\n", "must be a file name or a list of file names"),
    ("extends: [a.yaml, {x: 1}]\n", "must be a file name or a list of file names"),
])
def test_bad_extends(tmp_path, text, expect):
    p = write(tmp_path, "x.yaml", "name: x\n" + text)
    with pytest.raises(ConfigError, match=expect) as exc:
        load_document(p)
    assert (exc.value.file, exc.value.line, exc.value.key_path) == (str(p), 2, "extends")


# --------------------------------------------------------------------------- overrides

def test_parse_override():
    assert parse_override("a.b.c=64") == (("a", "b", "c"), "64")
    assert parse_override("a=[1, 2]") == (("a",), [1, 2])
    assert parse_override("a={x: 1}") == (("a",), {"x": 1})
    assert parse_override("a=null") == (("a",), None)
    assert parse_override("a=") == (("a",), None)
    assert parse_override("a=x=y") == (("a",), "x=y")
    assert parse_override("a='64'") == (("a",), "64")
    assert parse_override("a=true") == (("a",), "true")


@pytest.mark.parametrize("text", ["novalue", "=5", "a..b=1", "a.=1", "a=[1,"])
def test_malformed_override(text):
    with pytest.raises(ConfigError) as exc:
        parse_override(text)
    assert exc.value.file == f"<override -o {text}>"


def test_overrides_are_typed_by_schema(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n  sa: {type: systolic, rows: 4}\n")
    cfg, doc = load_config(Arch, p, ["units.sa.rows=64", "name=64", "clock_ghz=1e-1",
                                     "units.sa.sram.kb=32", "mode=exact"])
    assert cfg.units["sa"].rows == 64 and cfg.name == "64"
    assert cfg.clock_ghz == pytest.approx(0.1)
    assert cfg.units["sa"].sram == Sram(kb=32) and cfg.mode == "exact"
    assert doc.origin(("units", "sa", "rows")) == ("<override -o units.sa.rows=64>", None)
    assert doc.origin(("units", "sa", "sram")) == ("<override -o units.sa.sram.kb=32>", None)
    assert doc.origin(("units", "sa", "cols")) == (str(p), 3)  # untouched key keeps its line


def test_override_list_index_and_whole_values(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\naxes:\n  - {name: a, values: [1]}\n"
                                  "  - {name: b, values: [2]}\n")
    cfg, doc = load_config(Arch, p, ["axes.1.values=[5, 6]", "axes.0.values.0=9"])
    assert [a.values for a in cfg.axes] == [[9], [5, 6]]
    assert doc.origin(("axes", 1, "values", 0)) == ("<override -o axes.1.values=[5, 6]>", None)
    cfg, _ = load_config(Arch, p, ["axes=[]"])
    assert cfg.axes == []


def test_override_errors_mention_the_override(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n  sa: {type: systolic, rows: 4}\n")
    err = config_error(Arch, p, ["units.sa.rowz=8"])
    assert str(err) == ("<override -o units.sa.rowz=8> units.sa.rowz: unknown key 'rowz'; "
                        "did you mean 'rows'?")
    err = config_error(Arch, p, ["units.sa.rows=-2"])
    assert str(err) == ("<override -o units.sa.rows=-2> units.sa.rows: "
                        "Input should be greater than 0, got '-2'")
    err = config_error(Arch, p, ["units.sa.rows.deep=1"])
    assert str(err).startswith("<override -o units.sa.rows.deep=1> units.sa.rows.deep: "
                               "cannot set a key inside units.sa.rows")


@pytest.mark.parametrize("text, expect", [
    ("axes.5.name=q", "is a list of 1 item(s); '5' is not a valid index"),
    ("axes.first.name=q", "'first' is not a valid index"),
])
def test_override_bad_list_index(tmp_path, text, expect):
    p = write(tmp_path, "x.yaml", "name: x\naxes:\n  - {name: a, values: [1]}\n")
    with pytest.raises(ConfigError) as exc:
        load_document(p, [text])
    assert exc.value.file == f"<override -o {text}>"
    assert expect in str(exc.value)


def test_override_creates_mappings_in_place_of_null(tmp_path):
    p = write(tmp_path, "x.yaml", "name: x\nunits:\n")
    cfg, doc = load_config(Arch, p, ["units.sa.type=systolic", "units.sa.rows=2"])
    assert cfg.units["sa"].rows == 2
    assert doc.origin(("units", "sa")) == ("<override -o units.sa.type=systolic>", None)
    assert doc.origin(("units",)) == ("<override -o units.sa.type=systolic>", None)


def test_override_on_extended_document_and_order(tmp_path):
    write(tmp_path, "base.yaml", "name: base\nclock_ghz: 1.0\n")
    child = write(tmp_path, "c.yaml", "extends: base.yaml\nclock_ghz: 2.0\n")
    cfg, _ = load_config(Arch, child, ["clock_ghz=3", "clock_ghz=4"])
    assert cfg.clock_ghz == 4.0 and cfg.name == "base"


def test_source_doc_without_origins_falls_back_to_its_file():
    doc = SourceDoc(data={"a": 1}, file="mem.yaml")
    assert doc.origin(("a",)) == ("mem.yaml", None)


def problems_of(err: ConfigError) -> list[str]:
    return [str(p) for p in err.problems]
