"""The spec-file grammar of :mod:`verify.audit.spec`: parsing, globs, precedence,
expressions (expected values worked out by hand) and every error with its place."""

from __future__ import annotations

import math

import pytest

from verify.audit.spec import SpecError, compile_glob, layer_index, load_spec, parse_spec

GPT2_LIKE = """\
"h.*.attn.c_proj.weight" = "normal(mean=0, std=initializer_range / sqrt(2 * n_layer))"
"**.bias" = "zeros()"
wte.weight = "normal(std=initializer_range)"

[spec]
model = "Toy"
source = "config"
citation = "toy.py _init_weights"

[h]
"*.ln_?.weight" = "ones()"

[[rule]]
glob = "h.*.mlp.c_proj.weight"
law = "normal(std=initializer_range / sqrt(2 * n_layer))"
source = "paper"
citation = "Radford et al. 2019, sec. 2.3"
note = "residual projection"

[[rule]]
glob = "h.*.attn.bias"
law = "own()"
"""

CONFIG = {"initializer_range": 0.02, "n_layer": 12}


def law(text: str, config: dict, name: str = "w", **kwargs):
    return parse_spec(f'"{name}" = "{text}"\n', "t.toml").law_for([name], config, **kwargs)


def error_of(text: str, config: dict | None = None, names=("w",)) -> str:
    with pytest.raises(SpecError) as caught:
        spec = parse_spec(text, "bad.toml")
        spec.law_for(list(names), config or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- parsing -----------------------------------------------------------------------------


def test_parse_reads_every_form_with_its_defaults():
    spec = parse_spec(GPT2_LIKE, "toy.toml")
    assert spec.model == "Toy"
    assert [rule.glob for rule in spec.rules] == [
        "h.*.attn.c_proj.weight", "**.bias", "wte.weight", "h.*.ln_?.weight",
        "h.*.mlp.c_proj.weight", "h.*.attn.bias"]
    assert [rule.line for rule in spec.rules] == [1, 2, 3, 11, 14, 21]
    first, mlp = spec.rules[0], spec.rules[4]
    assert (first.source, first.citation) == ("config", "toy.py _init_weights")
    assert (mlp.source, mlp.citation, mlp.note) == ("paper", "Radford et al. 2019, sec. 2.3",
                                                    "residual projection")


def test_law_for_carries_the_rule_source_and_citation():
    spec = parse_spec(GPT2_LIKE, "toy.toml")
    mlp = spec.law_for(["h.5.mlp.c_proj.weight"], CONFIG)
    assert mlp.family == "normal" and mlp.mean == 0.0
    assert mlp.std == pytest.approx(0.02 / math.sqrt(24))  # 0.0040824829...
    assert mlp.std == pytest.approx(0.004082482904638631, rel=1e-12)
    assert (mlp.source, mlp.citation) == ("paper", "Radford et al. 2019, sec. 2.3")
    assert mlp.rule == "normal(std=initializer_range / sqrt(2 * n_layer))"
    assert spec.law_for(["h.0.ln_1.weight"], CONFIG).value == 1.0
    assert spec.law_for(["h.0.mlp.c_fc.bias"], CONFIG).value == 0.0
    assert spec.law_for(["wte.weight"], CONFIG).std == 0.02


def test_own_covers_a_tensor_without_an_expectation():
    spec = parse_spec(GPT2_LIKE, "toy.toml")
    assert spec.law_for(["h.0.attn.bias"], CONFIG) is None
    assert spec.rule_for(["h.0.attn.bias"]).exempt
    assert spec.law_for(["lm_head.weight"], CONFIG) is None
    assert spec.rule_for(["lm_head.weight"]) is None
    assert parse_spec('"w" = "any()"', "t").rule_for(["w"]).exempt


def test_unmatched_lists_the_globs_no_tensor_matches():
    spec = parse_spec(GPT2_LIKE, "toy.toml")
    names = ["wte.weight", "h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias"]
    assert spec.unmatched(names) == ["h.*.ln_?.weight", "h.*.mlp.c_proj.weight",
                                     "h.*.attn.bias"]


def test_load_spec_reads_a_file(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text('"w" = "ones()"\n', encoding="utf-8")
    spec = load_spec(path)
    assert spec.origin == str(path) and spec.rules[0].source == "spec"
    with pytest.raises(SpecError, match=r"missing\.toml:1:1: cannot read the spec"):
        load_spec(tmp_path / "missing.toml")


def test_doc_mismatch_records():
    spec = parse_spec('[[doc_mismatch]]\ntensors = "**.weight"\ndetail = "d"\ndoc = "D"\n'
                      'code = "C"\n', "t")
    (record,) = spec.doc_mismatches
    assert (record.tensors, record.detail, record.doc, record.code) == ("**.weight", "d", "D", "C")


# --- globs and precedence ---------------------------------------------------------------


@pytest.mark.parametrize(("glob", "name", "matches"), [
    ("h.*.attn.weight", "h.3.attn.weight", True),
    ("h.*.weight", "h.3.attn.weight", False),           # * stays in one component
    ("h.*", "h.3.attn", False),
    ("h.**.weight", "h.3.attn.weight", True),
    ("h.**.weight", "h.weight", True),                  # ** is zero or more components
    ("**.bias", "bias", True),
    ("**.bias", "a.b.c.bias", True),
    ("**.bias", "a.b.c.bias_x", False),
    ("encoder.**", "encoder.layer.0.weight", True),
    ("encoder.**", "decoder.layer.0.weight", False),
    ("**", "anything.at.all", True),
    ("h.*.ln_?.weight", "h.0.ln_1.weight", True),
    ("h.*.ln_?.weight", "h.0.ln_10.weight", False),
    ("*_proj.weight", "q_proj.weight", True),
    ("{q,k,v}_proj.weight", "k_proj.weight", True),
    ("{q,k,v}_proj.weight", "o_proj.weight", False),
    ("h.1**weight", "h.12.attn.weight", True),          # ** inside a component crosses dots
    ("layer.0.weight", "layer.0.weight", True),
    ("layer.0.weight", "xlayer.0.weight", False),       # the whole name must match
    ("a+b.weight", "a+b.weight", True),                 # regex characters are literal
    ("a+b.weight", "aab.weight", False),
])
def test_glob_matching(glob, name, matches):
    assert (compile_glob(glob).regex.fullmatch(name) is not None) is matches


PRECEDENCE = """\
"**" = "constant(1)"
"**.weight" = "constant(2)"
"h.*.*.weight" = "constant(3)"
"h.*.{attn,mlp}.weight" = "constant(4)"
"h.*.attn.weight" = "constant(5)"
"h.0.attn.weight" = "constant(6)"
"*.*.attn.weight" = "constant(7)"
"h.*.mlp.weight" = "constant(8)"
"*.0.mlp.weight" = "constant(9)"
"""


@pytest.mark.parametrize(("name", "value"), [
    ("x", 1),                  # only ** matches
    ("a.weight", 2),           # one ** beats ** alone by its literal characters
    ("h.1.norm.weight", 3),    # no ** beats a **
    ("h.1.mlp.weight", 8),     # same * count: no {...} beats h.*.{attn,mlp}.weight
    ("h.1.attn.weight", 5),    # fewer * wins: h.*.attn (1) over *.*.attn (2) and h.*.*(2)
    ("h.0.attn.weight", 6),    # no wildcard at all wins
    ("h.0.mlp.weight", 8),     # a tie (one *, same literals): the rule listed first wins
])
def test_precedence_most_specific_then_first_listed(name, value):
    spec = parse_spec(PRECEDENCE, "p.toml")
    assert spec.law_for([name], {}).value == value


def test_alternatives_lose_to_a_literal_and_beat_a_star():
    spec = parse_spec('"{q,k,v}_proj.weight" = "constant(1)"\n"q_proj.weight" = "constant(2)"\n'
                      '"*_proj.weight" = "constant(3)"\n', "t")
    assert [spec.law_for([n], {}).value for n in ("q_proj.weight", "k_proj.weight",
                                                  "o_proj.weight")] == [2, 1, 3]


def test_a_tied_tensor_takes_the_best_rule_over_all_its_names():
    spec = parse_spec('"**.weight" = "constant(1)"\n"decoder.embed_tokens.weight" = '
                      '"constant(2)"\n', "t")
    names = ["shared.weight", "decoder.embed_tokens.weight"]
    assert spec.law_for(names, {}).value == 2
    assert spec.rule_for(names[:1]).glob == "**.weight"


# --- laws and expressions ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "config", "expected"), [
    ("normal(std=0.5)", {}, {"family": "normal", "std": 0.5, "mean": 0.0}),
    ("normal(mean=-1, std=2)", {}, {"mean": -1.0, "std": 2.0}),
    ("normal(variance=0.25)", {}, {"std": 0.5}),                      # variance, not std
    ("normal(std=d_model ** -0.5)", {"d_model": 64}, {"std": 0.125}),
    ("normal(std=factor * (d_model * d_kv) ** -0.5)", {"factor": 1.0, "d_model": 64,
                                                       "d_kv": 16}, {"std": 0.03125}),
    ("normal(std=-(-2) + 1 - 3 / 4)", {}, {"std": 2.25}),
    ("normal(std=sqrt(2 / fan))", {"fan": 8}, {"std": 0.5}),
    ("normal(std=exp(log(3)))", {}, {"std": 3.0}),
    ("normal(std=min(0.1, 0.2, x) + max(1, 2))", {"x": 0.05}, {"std": 2.05}),
    ("normal(std=text_config.hidden_size ** -0.5)", {"text_config": {"hidden_size": 16}},
     {"std": 0.25}),
    ("normal(std=0.1 * (1 + flag))", {"flag": True}, {"std": 0.2}),
    ("uniform(low=-1, high=3)", {}, {"family": "uniform", "low": -1.0, "high": 3.0}),
    ("uniform(bound=sqrt(6 / (3 + 5)))", {}, {"low": -math.sqrt(0.75),
                                              "high": math.sqrt(0.75)}),
    # absolute bounds
    ("truncated_normal(mean=1, std=0.5, low=0, high=3)", {},
     {"family": "truncated_normal", "mean": 1.0, "std": 0.5, "low": 0.0, "high": 3.0}),
    # bounds in std units: low = 1 - 2 * 0.5 = 0, high = 1 + 3 * 0.5 = 2.5
    ("truncated_normal(mean=1, std=0.5, a=-2, b=3)", {},
     {"mean": 1.0, "std": 0.5, "low": 0.0, "high": 2.5}),
    ("constant(3)", {}, {"family": "constant", "value": 3.0}),
    ("constant(value=1 / scale)", {"scale": 4}, {"value": 0.25}),
    ("zeros()", {}, {"family": "constant", "value": 0.0}),
    ("ones()", {}, {"value": 1.0}),
])
def test_laws_evaluate_to_values_worked_out_by_hand(text, config, expected):
    result = law(text, config)
    for key, value in expected.items():
        got = getattr(result, key)
        assert got == pytest.approx(value, rel=1e-12) if isinstance(value, float) else got == value


def test_layer_is_the_first_integer_component():
    assert layer_index("h.3.attn.c_proj.weight") == 3
    assert layer_index("encoder.block.1.layer.0.DenseReluDense.wo.weight") == 1
    assert layer_index("wte.weight") is None
    spec = parse_spec('"h.*.w" = "normal(std=0.02 / sqrt(2 * (layer + 1)))"', "t")
    assert spec.law_for(["h.3.w"], {}).std == pytest.approx(0.02 / math.sqrt(8))  # 0.00707...
    assert spec.law_for(["h.3.w"], {}, layer=0).std == pytest.approx(0.02 / math.sqrt(2))


def test_padding_row_is_an_expression_over_the_config():
    spec = parse_spec('[[rule]]\nglob = "emb.weight"\nlaw = "normal(std=0.02)"\n'
                      'padding_row = "pad_token_id"\n', "t")
    rule = spec.rule_for(["emb.weight"])
    assert rule.padding_row == "pad_token_id"
    assert rule.padding_index({"pad_token_id": 1}) == 1
    assert rule.padding_index({"pad_token_id": None}) is None
    assert parse_spec('"w" = "zeros()"', "t").rules[0].padding_index({}) is None


# --- errors: one line, FILE:LINE:COL ----------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # malformed TOML, with the line and column tomllib reports
    ('"w" = "zeros()"\n[table\n', "bad.toml:2:7: invalid TOML: Expected ']'"),
    ('"w" = "zeros()" "x"\n', "bad.toml:1:17: invalid TOML: Expected newline"),
    ('"w" = "zeros()"\n"w" = "ones()"\n', "bad.toml:2:15: invalid TOML: Cannot overwrite"),
    # where tomllib says only "at end of document": the key declared twice, or the end
    ('"w" = "zeros()"\n"w" = "ones()"', "bad.toml:2:1: invalid TOML: Cannot overwrite a "
                                       "value (this key is declared twice)"),
    ('"w" = \n', "bad.toml:1:7: invalid TOML: Invalid value"),
    ('"w" = ', "bad.toml:1:7: invalid TOML: Invalid value (at the end of the file)"),
    # unknown laws: the column of the law's name inside the string
    ('\n"w" = "gauss(std=1)"\n', "bad.toml:2:8: unknown law 'gauss'"),
    ('[[rule]]\nglob = "w"\nlaw   = "kaiming(a=0)"\n', "bad.toml:3:10: unknown law 'kaiming'"),
    ('"w" = "0.02"\n', "bad.toml:1:8: a law is a call such as normal(std=0.02)"),
    # bad arguments
    ('"w" = "normal(std=1, scale=2)"\n', "bad.toml:1:28: normal: argument 'scale' unknown"),
    ('"w" = "normal(std=1, std=2)"\n', "bad.toml:1:26: normal: argument 'std' twice"),
    ('"w" = "normal(mean=1)"\n', "bad.toml:1:8: normal needs exactly one of std or variance"),
    ('"w" = "normal(std=1, variance=1)"\n', "bad.toml:1:8: normal needs exactly one of"),
    ('"w" = "normal(0.02)"\n', "bad.toml:1:15: normal takes keyword arguments only"),
    ('"w" = "uniform(low=1)"\n', "bad.toml:1:8: uniform needs its bounds in one of two forms"),
    ('"w" = "uniform(low=-1, high=1, bound=1)"\n', "bad.toml:1:8: uniform needs its bounds"),
    ('"w" = "truncated_normal(std=1, low=-2, b=2)"\n',
     "bad.toml:1:8: truncated_normal needs its bounds in one of two forms"),
    ('"w" = "truncated_normal(std=1)"\n', "bad.toml:1:8: truncated_normal needs its bounds"),
    ('"w" = "own(1)"\n', "bad.toml:1:12: own() takes no arguments"),
    ('"w" = "zeros(value=1)"\n', "bad.toml:1:20: zeros: argument 'value' unknown"),
    # bad expressions: the column of the offending node
    ('"w" = "normal(std=1 +)"\n', "bad.toml:1:22: cannot parse the law"),
    ('"w" = "normal(std=__import__(1))"\n', "bad.toml:1:19: unknown function '__import__'"),
    ('"w" = "normal(std=cfg.get(1))"\n', "bad.toml:1:19: unknown call"),
    ('"w" = "normal(std=x[0])"\n', "bad.toml:1:19: Subscript is not allowed"),
    ('"w" = "normal(std=1 if x else 2)"\n', "bad.toml:1:19: IfExp is not allowed"),
    ('"w" = "normal(std=[1][0])"\n', "bad.toml:1:19: Subscript is not allowed"),
    ("\"w\" = \"normal(std='a')\"\n", "bad.toml:1:19: the constant 'a' is not allowed"),
    ('"w" = "normal(std=True)"\n', "bad.toml:1:19: the constant True is not allowed"),
    ('"w" = "normal(std=7 % 2)"\n', "bad.toml:1:19: the operator Mod is not allowed"),
    ('"w" = "normal(std=2 // 1)"\n', "bad.toml:1:19: the operator FloorDiv is not allowed"),
    ('"w" = "normal(std=sqrt)"\n', "bad.toml:1:19: sqrt is a function"),
    ('"w" = "normal(std=sqrt(1, 2))"\n', "bad.toml:1:19: sqrt takes one argument"),
    ('"w" = "normal(std=max(1))"\n', "bad.toml:1:19: max takes two or more arguments"),
    ('"w" = "normal(std=lambda: 1)"\n', "bad.toml:1:19: Lambda is not allowed"),
    # unknown keys, bad values, bad globs
    ('[spec]\nmodel = "x"\nsorce = "paper"\n', "bad.toml:3:1: unknown key 'sorce' in [spec]"),
    ('[spec]\nmodel = "x"\n"h.*.w" = "ones()"\n',
     "bad.toml:3:1: unknown key 'h.*.w' in [spec]: use model, description, source, citation; a "
     "rule written after a [table] header belongs to that table, write it before the first"),
    ('[[rule]]\nglob = "w"\nlaw = "zeros()"\n  notes = "x"\n',
     "bad.toml:4:3: unknown key 'notes' in [[rule]]"),
    ('[[doc_mismatch]]\ntensors = "w"\ndetail = "d"\ndoc = "D"\ncode = "C"\nwhy = "?"\n',
     "bad.toml:6:1: unknown key 'why' in [[doc_mismatch]]"),
    ('[[doc_mismatch]]\ntensors = "w"\n', "bad.toml:1:1: missing key 'detail'"),
    ('[[rule]]\nglob = "w"\n', "bad.toml:1:1: missing key 'law'"),
    ('[[rule]]\nglob = "w"\nlaw = 3\n', "bad.toml:3:1: 'law' must be a string"),
    ('[spec]\nsource = "papers"\n', "bad.toml:2:1: unknown source 'papers'"),
    ('[[rule]]\nglob = "w"\nlaw = "zeros()"\nsource = "blog"\n',
     "bad.toml:4:1: unknown source 'blog'"),
    ('"w" = 3\n', "bad.toml:1:1: the law of 'w' must be a string"),
    ('spec = 3\n', "bad.toml:1:1: [spec] must be a table"),
    ('rule = "x"\n', "bad.toml:1:1: 'rule' is reserved for [[rule]] tables"),
    ('"a..b" = "zeros()"\n', "bad.toml:1:1: glob 'a..b' has an empty component"),
    ('"x" = "ones()"\n"{a,b.c" = "zeros()"\n', "bad.toml:2:1: glob '{a,b': '{' without '}'"),
    ('"a}" = "zeros()"\n', "bad.toml:1:1: glob 'a}': '}' without '{'"),
    ('"{a,*}" = "zeros()"\n', "bad.toml:1:1: glob '{a,*}': each alternative"),
    ('[[rule]]\nglob = "w"\nlaw = "zeros()"\npadding_row = "pad +"\n',
     "bad.toml:4:16: cannot parse padding_row 'pad +'"),
])
def test_parse_errors_name_the_file_line_and_column(text, expected):
    assert error_of(text).startswith(expected)


@pytest.mark.parametrize(("text", "config", "names", "expected"), [
    # a config field the config lacks: named, with its place in the law
    ('\n"h.*.w" = "normal(std=initializer_range / sqrt(2 * n_layer))"\n',
     {"initializer_range": 0.02}, ["h.0.w"],
     "bad.toml:2:52: config field 'n_layer' is not in the config (it has: initializer_range)"),
    ('"w" = "normal(std=vision_config.width)"\n', {"vision_config": {"hidden_size": 4}}, ["w"],
     "bad.toml:1:19: config field 'vision_config.width' is not in config field "
     "'vision_config' (it has: hidden_size"),
    ('"w" = "normal(std=hidden_size.x)"\n', {"hidden_size": 4}, ["w"],
     "bad.toml:1:19: config field 'hidden_size' is 4, not a nested config"),
    ('"w" = "normal(std=pad_token_id)"\n', {"pad_token_id": None}, ["w"],
     "bad.toml:1:19: config field 'pad_token_id' is None, not a number"),
    ('"w" = "normal(std=0.02 / sqrt(layer))"\n', {}, ["w"],
     "bad.toml:1:31: the law uses `layer` but tensor 'w' has no integer component"),
    ('"w" = "normal(std=1 / (n - 4))"\n', {"n": 4}, ["w"],
     "bad.toml:1:19: cannot evaluate: float division by zero"),
    ('"w" = "normal(std=log(n))"\n', {"n": 0}, ["w"], "bad.toml:1:19: cannot evaluate"),
    ('"w" = "normal(std=10.0 ** 400)"\n', {}, ["w"],
     "bad.toml:1:19: cannot evaluate: the result is too large"),
    ('"w" = "normal(std=(-1) ** 0.5)"\n', {}, ["w"], "bad.toml:1:19: the expression "
                                                     "evaluates to"),
    ('"w" = "normal(std=1e400)"\n', {}, ["w"], "bad.toml:1:19: this number is inf, not finite"),
    ('"w" = "normal(mean=m, std=1)"\n', {"m": float("nan")}, ["w"],
     "bad.toml:1:20: config field 'm' is nan, not finite"),
    ('"w" = "normal(std=' + "9" * 400 + ')"\n', {}, ["w"], "bad.toml:1:19: 999"),
    ('"w" = "normal(std=n - 1)"\n', {"n": 1}, ["w"],
     "bad.toml:1:8: normal(std=n - 1): a normal law needs a positive, finite std"),
    ('"w" = "uniform(low=1, high=1)"\n', {}, ["w"], "bad.toml:1:8: uniform(low=1, high=1): "
                                                    "a uniform law needs bounds low < high"),
    ('"w" = "normal(variance=-1)"\n', {}, ["w"], "bad.toml:1:8: variance is -1, negative"),
    ('[[rule]]\nglob = "w"\nlaw = "zeros()"\npadding_row = "pad / 2"\n', {"pad": 3}, None,
     "bad.toml:4:16: padding_row is 1.5, not a row index"),
])
def test_evaluation_errors_name_the_field_and_the_place(text, config, names, expected):
    with pytest.raises(SpecError) as caught:
        spec = parse_spec(text, "bad.toml")
        if names is None:
            spec.rules[0].padding_index(config)
        else:
            spec.law_for(names, config)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)
