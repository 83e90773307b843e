"""Text form round trips: any valid flow AST → print_text → parse_text gives the same AST."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import parse_expression, parse_value_string
from flowpilot.dsl.span import NO_SPAN, Origin
from flowpilot.dsl.text_parser import parse_text
from flowpilot.dsl.text_printer import print_text
from flowpilot.durations import parse_duration

ORIGIN = Origin("gen", 1, 1, 0)
KEYWORDISH = ["timeout", "if", "step", "name", "default", "in", "as", "on", "flow", "retry"]

idents = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.sampled_from(KEYWORDISH)
)
flow_ids = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
plain_text = st.text(
    st.characters(blacklist_characters="$", blacklist_categories=("Cs",)), max_size=12
)
keys = st.one_of(idents, plain_text)

_ATOMS = ["inputs.x", "steps.a.output.items", "vars.total", "x[0]", "row['id']", "1", "'s'",
          "null", "true", "2.5", "len(xs)", "a[1:]"]  # fmt: skip


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(
            children, st.sampled_from(["+", "*", "==", "and", "or", "~", "not in"]), children
        ).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]}) if ({t[1]}) else {t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"-({c})"),
        st.tuples(children, children).map(lambda t: f"[{t[0]}, {t[1]}]"),
        children.map(lambda c: "{'k': " + c + "}"),
        st.tuples(children, children).map(lambda t: f"{t[0]} | default({t[1]})"),
    )


expr_sources = st.recursive(st.sampled_from(_ATOMS), _combine, max_leaves=5)


def _expr_value(source: str) -> ast.Value:
    expr = parse_expression(source, ORIGIN, DiagnosticSink())
    assert expr is not None, source
    return ast.ExprValue(source=source, expr=expr)


def _interpolated(parts: tuple[str, str, str]) -> ast.Value:
    text = f"{parts[0]}${{{{ {parts[1]} }}}}{parts[2]}"
    return parse_value_string(text, ORIGIN, DiagnosticSink(), NO_SPAN)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    plain_text,
).map(lambda v: ast.Scalar(value=v))

leaf_values = st.one_of(
    scalars,
    expr_sources.map(_expr_value),
    st.tuples(plain_text, expr_sources, plain_text).map(_interpolated),
)


def _grow(children: st.SearchStrategy[ast.Value]) -> st.SearchStrategy[ast.Value]:
    return st.one_of(
        st.lists(children, max_size=3).map(lambda items: ast.ListValue(items=items)),
        st.lists(st.tuples(keys, children), max_size=3).map(
            lambda kv: ast.MapValue(entries=[ast.Entry(key=k, value=v) for k, v in kv])
        ),
    )


values = st.recursive(leaf_values, _grow, max_leaves=6)
maps = st.lists(st.tuples(keys, values), max_size=3).map(
    lambda kv: ast.MapValue(entries=[ast.Entry(key=k, value=v) for k, v in kv])
)
durations = st.sampled_from(["250ms", "30s", "5m", "2h", "3d", "PT5M", "PT0.5S", "P1DT2H"]).map(
    lambda t: ast.Duration(text=t, ms=parse_duration(t) or 0)
)
retries = st.builds(
    ast.Retry,
    max_attempts=st.none() | st.integers(0, 10),
    backoff=st.none() | st.sampled_from(["fixed", "linear", "exponential"]),
    delay=st.none() | durations,
    factor=st.none() | st.integers(1, 4) | st.floats(1, 4),
    max_delay=st.none() | durations,
    jitter=st.none() | st.booleans(),
    retry_on=st.none() | st.lists(st.one_of(idents, plain_text), max_size=2),
)
comments = st.lists(
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs", "Zl", "Zp")),
            max_size=10).map(str.strip),
    max_size=2,
)  # fmt: skip
json_data = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-100, 100), st.floats(-1e6, 1e6), plain_text),
    lambda c: st.lists(c, max_size=2) | st.dictionaries(keys, c, max_size=2),
    max_leaves=4,
)


def common() -> dict[str, Any]:
    return {
        "id": idents,
        "comments": comments,
        "name": st.none() | plain_text,
        "description": st.none() | plain_text,
        "if_": st.none() | values,
        "timeout": st.none() | durations,
        "retry": st.none() | retries,
        "continue_on_error": st.none() | st.booleans(),
        "mock": st.none() | values,
    }


leaf_steps = st.one_of(
    st.builds(ast.UsesStep, uses=st.sampled_from(["core.log", "http.request@2", "a.b_c.d"]),
              args=st.none() | maps, **common()),
    st.builds(ast.CallStep, flow=flow_ids, args=st.none() | maps, **common()),
    st.builds(ast.WaitStep, duration=durations, **common()),
    st.builds(ast.WaitStep, until=values, **common()),
    st.builds(ast.SetStep, values=maps, **common()),
    st.builds(ast.FailStep, message=values, type=st.none() | values, **common()),
    st.builds(ast.ReturnStep, values=maps, **common()),
)  # fmt: skip


def _containers(children: st.SearchStrategy[ast.Step]) -> st.SearchStrategy[ast.Step]:
    bodies = st.lists(children, max_size=2)
    return st.one_of(
        st.builds(ast.GroupStep, steps=bodies, **common()),
        st.builds(ast.ParallelStep, branches=bodies, fail_fast=st.none() | st.booleans(),
                  max_concurrency=st.none() | st.integers(1, 9), **common()),
        st.builds(ast.SwitchStep,
                  cases=st.lists(st.builds(ast.SwitchCase, when=values, steps=bodies), max_size=2),
                  default=st.none() | bodies, **common()),
        st.builds(ast.ForeachStep, items=values, as_=idents, concurrency=st.none() | st.integers(1, 9),
                  collect=st.none() | values, steps=bodies, **common()),
        st.builds(ast.RepeatStep, until=values, max_iterations=st.integers(0, 99),
                  delay=st.none() | durations, steps=bodies, **common()),
        st.builds(ast.TryStep, try_=bodies, catch=st.none() | bodies, finally_=st.none() | bodies,
                  **common()),
    )  # fmt: skip


steps = st.recursive(leaf_steps, _containers, max_leaves=5)

inputs = st.builds(
    ast.InputDecl,
    name=idents,
    type=st.sampled_from(["string", "number", "integer", "boolean", "file", "array", "object"]),
    required=st.booleans(),
    default=st.none() | values,
    description=st.none() | plain_text,
    options=st.dictionaries(
        keys.filter(lambda k: k not in ("type", "default", "description", "required")),
        json_data,
        max_size=2,
    ),
)
triggers = st.builds(
    ast.Trigger,
    id=flow_ids,
    type=st.sampled_from(["webhook", "cron", "event"]),
    config=st.lists(st.tuples(keys.filter(lambda k: k != "inputs"), values), max_size=3).map(
        lambda kv: ast.MapValue(entries=[ast.Entry(key=k, value=v) for k, v in kv])
    ),
    inputs=st.none() | maps,
)
flows = st.builds(
    ast.Flow,
    id=flow_ids,
    dsl=st.sampled_from([1, 2]),
    name=st.none() | plain_text,
    description=st.none() | plain_text,
    labels=st.dictionaries(keys, plain_text, max_size=2),
    inputs=st.lists(inputs, max_size=2),
    vars=st.lists(st.builds(ast.VarDecl, name=idents, value=values), max_size=2),
    triggers=st.lists(triggers, max_size=2),
    defaults=st.none() | st.builds(ast.Defaults, timeout=st.none() | durations,
                                   retry=st.none() | retries),
    timeout=st.none() | durations,
    concurrency=st.none() | st.builds(ast.Concurrency, limit=st.integers(1, 50),
                                      on_limit=st.sampled_from(["queue", "cancel", "fail"])),
    steps=st.lists(steps, min_size=1, max_size=3),
    catch=st.none() | st.lists(steps, max_size=2),
    finally_=st.none() | st.lists(steps, max_size=2),
    outputs=st.lists(st.builds(ast.OutputDecl, name=idents, value=values), max_size=2),
)  # fmt: skip


def dump(node: object) -> object:
    return ast.dump(node, comments=True)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(flows)
def test_print_then_parse_gives_the_same_flow(flow: ast.Flow) -> None:
    text = print_text(flow)
    parsed, diagnostics = parse_text(text, "roundtrip.flow")
    assert not diagnostics, (text, [(d.message, d.span.line, d.span.column) for d in diagnostics])
    assert parsed is not None
    assert dump(parsed) == dump(flow), text
    assert print_text(parsed) == text  # printing is idempotent


def test_dsl_example_round_trips() -> None:
    source = """flow invoice-triage {
  description "Extract invoice totals and route large ones for approval"
  input document: file(accept: ["application/pdf"])
  input threshold: number = 1000
  trigger cron nightly("0 2 * * *", timezone: "Europe/Berlin")
  defaults timeout 5m retry(max_attempts: 3, backoff: exponential, delay: 2s)

  step text = documents.extract_text(file: inputs.document)
  step fields = ai.extract(text: steps.text.output.text, schema: {"type": "object"})
  switch route {
    when steps.fields.output.total > inputs.threshold {
      step approve = human.approval(message: "Approve {{ steps.fields.output.vendor }}?") timeout 3d
    }
    default { step auto = core.log(message: "auto-approved") }
  }
  foreach lines in steps.fields.output.items as item concurrency 4 {
    step classify = ai.classify(text: item.description, labels: ["hardware", "software"])
  }
  try guarded {
    step post = http.request(method: "POST", url: "https://erp.example.com/in", json: steps.fields.output)
  } catch {
    step alert = core.log(level: "error", message: "ERP failed: {{ error.message }}")
  }
  output total = steps.fields.output.total
}
"""
    flow, diagnostics = parse_text(source, "invoice.flow")
    assert not diagnostics and flow is not None
    again, _ = parse_text(print_text(flow), "invoice.flow")
    assert dump(again) == dump(flow)
    assert print_text(again) == print_text(flow)
