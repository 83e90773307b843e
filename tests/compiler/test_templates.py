"""Template fields: Jinja syntax errors, names, types, secrets, and sandboxed rendering."""

from __future__ import annotations

import pytest
from jinja2 import TemplateError, UndefinedError
from jinja2.sandbox import SecurityError

from flowpilot.compiler import types as T
from flowpilot.compiler.templates import check_template, code_mask, render_template
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink
from flowpilot.dsl.span import Origin, Span
from tests.compiler.expr_fakes import FakeEnv

# The template starts at line 10, column 7 of the file (offset 500).
ORIGIN = Origin("flow.flow.yaml", 10, 7, 500)


def check(text: str, env: FakeEnv | None = None) -> tuple[T.Type, list[Diagnostic]]:
    sink = DiagnosticSink()
    env = env or FakeEnv()
    env.sink = sink
    return check_template(text, ORIGIN, env, sink), sink.items


def codes(text: str) -> list[str]:
    return [d.code for d in check(text)[1]]


def at(d: Diagnostic) -> tuple[int, int, int]:
    return d.span.line, d.span.column, d.span.end_column


def test_plain_text_and_valid_templates_are_clean() -> None:
    assert check("Just text, no braces") == (T.STRING, [])
    text = (
        "Dear {{ inputs.name | title }},\n"
        "{% if inputs.order.total > inputs.threshold %}large{% else %}small{% endif %}\n"
        "{% for line in inputs.order.lines %}- {{ line.sku }} "
        "({{ loop.index }}/{{ loop.length }})\n"
        "{% endfor %}{{ inputs.tags | join(', ') }} {{ inputs.document.name }}"
    )
    assert check(text) == (T.STRING, [])


def test_syntax_error_is_e501_at_the_offending_token() -> None:
    _, diags = check("Hello\n{{ inputs.name }\n")
    (d,) = diags
    assert d.code == "E501" and d.message.startswith("template syntax error: unexpected '}'")
    assert at(d) == (11, 16, 17)  # second template line, the lone '}'


def test_syntax_error_on_the_first_line_is_shifted_by_the_origin_column() -> None:
    (d,) = check("{{ foo( }}")[1]
    assert d.code == "E501" and at(d) == (10, 15, 16)


def test_unknown_tag_points_at_the_tag() -> None:
    (d,) = check("ok\n{% endfo %}")[1]
    assert d.code == "E501" and "endfo" in d.message
    assert at(d) == (11, 4, 9)


def test_unclosed_block_points_at_its_opening_tag() -> None:
    (d,) = check("a\n{% for x in inputs.tags %}\n{{ x }}\n")[1]
    assert d.code == "E501" and "endfor" in d.message
    assert at(d) == (11, 1, 7)


def test_unknown_name_is_e502_with_did_you_mean() -> None:
    text = "Hello {{ inptus.name }}"
    (d,) = check(text)[1]
    assert (d.code, d.message, d.hint) == (
        "E502",
        "unknown name 'inptus' in template",
        "did you mean 'inputs'?",
    )
    assert at(d) == (10, 7 + text.index("inptus"), 7 + text.index("inptus") + 6)


def test_names_in_literal_text_do_not_confuse_positions() -> None:
    text = "customer customer {{ 'customer' ~ customer }}"
    (d,) = check(text)[1]
    assert d.code == "E502" and at(d)[1] == 7 + text.rindex("customer")


def test_unknown_field_is_e203_at_the_attribute() -> None:
    text = "{{ inputs.order.id }}\n  {{ inputs.order.totl }}"
    (d,) = check(text)[1]
    assert d.code == "E203" and d.hint == "did you mean 'total'?"
    assert at(d) == (11, 19, 23)


def test_expression_errors_are_reported_like_in_expressions() -> None:
    assert codes("{{ inputs.name - 1 }}") == ["E301"]
    assert codes("{{ inputs.tags | lenght }}") == ["E302"]
    assert codes("{{ lenght(inputs.tags) }}") == ["E302"]
    assert codes("{{ inputs.limit * 2 }}") == ["E301"]
    assert codes("{{ steps.nope.output }}") == ["E201"]


def test_for_loop_introduces_locals_of_the_item_type() -> None:
    text = "{% for t in inputs.tags %}{{ t | upper }}{{ t.nope }}{% endfor %}"
    (d,) = check(text)[1]
    assert d.code == "E301" and "field 'nope' of string" in d.message
    (d,) = check("{% for t in inputs.tags %}{% endfor %}{{ t }}")[1]
    assert d.code == "E502"  # the loop variable is gone after the loop
    (d,) = check("{% for t in inputs.tags %}{{ loop.indx }}{% endfor %}")[1]
    assert d.code == "E203" and d.hint == "did you mean 'index'?"


def test_for_loop_over_an_object_gives_keys_and_tuples_unpack() -> None:
    assert check("{% for k in inputs.order %}{{ k | upper }}{% endfor %}")[1] == []
    text = "{% for a, b in inputs.payload.pairs %}{{ a ~ b }}{% endfor %}"
    assert check(text)[1] == []


def test_set_with_and_macro_locals() -> None:
    text = (
        "{% set total = inputs.order.total %}{{ total + 1 }}"
        "{% with n = inputs.name %}{{ n | lower }}{% endwith %}"
        "{% macro row(label, value=0) %}{{ label }}: {{ value }}{% endmacro %}"
        "{{ row('a', total) }}"
    )
    assert check(text) == (T.STRING, [])
    (d,) = check("{% set total = inputs.name %}{{ total - 1 }}")[1]
    assert d.code == "E301"


def test_namespace_counters_in_loops() -> None:
    text = (
        "{% set ns = namespace(count=0, seen=inputs.name) %}"
        "{% for t in inputs.tags %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.count }}"
    )
    assert check(text) == (T.STRING, [])
    assert render_template(text, {"inputs": {"name": "x", "tags": ["a", "b"]}}) == "2"


def test_is_defined_does_not_report_the_name_it_tests() -> None:
    assert check("{% if missing is defined %}{{ missing }}{% endif %}")[1][0].code == "E502"
    assert check("{% if missing is defined %}ok{% endif %}")[1] == []
    assert codes("{{ inputs.name is strng }}") == ["E302"]


def test_rendering_a_secret_makes_the_field_secret() -> None:
    assert check("Token: {{ secrets.API_KEY }}") == (T.SECRET, [])
    assert check("{{ 'Bearer ' ~ secrets.API_KEY | upper }}")[0] == T.SECRET
    assert check("{% set k = secrets.API_KEY %}{{ k }}")[0] == T.SECRET
    assert check("{% set k %}{{ secrets.API_KEY }}{% endset %}{{ k }}")[0] == T.SECRET
    # Comparing a secret does not render it.
    assert (
        check("{% if secrets.API_KEY == 'x' %}yes{% endif %}{{ secrets.API_KEY | length }}")[0]
        == T.STRING
    )


def test_secret_spans_point_at_the_rendering_expressions() -> None:
    spans: list[Span] = []
    text = "Hi {{ inputs.name }}\n  pw: {{ secrets.DB_PASSWORD }}"
    sink = DiagnosticSink()
    assert check_template(text, ORIGIN, FakeEnv(), sink, secret_spans=spans) == T.SECRET
    assert [(s.line, s.column, s.end_column) for s in spans] == [(11, 10, 29)]


def test_jinja_keyword_arguments_map_to_parameters() -> None:
    assert check("{{ inputs.order.total | round(digits=2) }}")[1] == []
    (d,) = check("{{ inputs.order.total | round(places=2) }}")[1]
    assert d.code == "E302" and "no parameter 'places'" in d.message


def test_loading_other_templates_is_e501() -> None:
    assert codes("{% include 'other.txt' %}") == ["E501"]


def test_code_mask_keeps_only_code() -> None:
    text = "a {{ x ~ 'q' }} b {# c #} {% if y %}d{% endif %}"
    assert code_mask(text) == "     x ~ ' '                 if y       endif   "
    assert len(code_mask(text)) == len(text)


# -- rendering --------------------------------------------------------------------------------


def test_render_template_uses_the_builtins_and_dsl_text_rules() -> None:
    text = (
        "{{ name | upper }} {{ total | round(digits=1) }} [{{ none }}] {{ ok }} "
        "{% for k in data | keys | sort %}{{ k }};{% endfor %} {{ data | to_json }} "
        "{{ missing_value | default('n/a') }} {{ date_format('2024-03-05', '%d.%m.%Y') }}"
    )
    context = {"name": "ada", "total": 2.25, "ok": True, "data": {"b": 1, "a": 2}}
    context["missing_value"] = None
    assert render_template(text, context) == ('ADA 2.3 [] true a;b; {"b":1,"a":2} n/a 05.03.2024')


def test_render_template_is_strict_about_undefined_names() -> None:
    with pytest.raises(UndefinedError):
        render_template("{{ nope }}", {})


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ f.__globals__ }}",
        "{{ (1).__class__.__base__ }}",
    ],
)
def test_render_template_cannot_reach_python_internals(text: str) -> None:
    with pytest.raises(SecurityError):
        render_template(text, {"f": render_template})


def test_render_template_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError):
        render_template("{{ x.__class__ }}", {"x": 1})
