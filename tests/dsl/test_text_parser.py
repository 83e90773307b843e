"""The text form: every construct, spans, and the diagnostics a user sees."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import parse_expression
from flowpilot.dsl.span import Origin
from flowpilot.dsl.text_parser import parse_text


def parse(body: str) -> ast.Flow:
    """Parse ``body`` wrapped in a flow; it must have no diagnostics."""
    source = "flow demo {\n" + textwrap.dedent(body) + "\n}\n"
    flow, diags = parse_text(source, "demo.flow")
    assert not diags, [(d.code, d.message, d.span.line, d.span.column) for d in diags]
    assert flow is not None
    return flow


def diags(source: str) -> list[tuple[str, str, int, int]]:
    _, found = parse_text(textwrap.dedent(source), "bad.flow")
    return [(d.code, d.message, d.span.line, d.span.column) for d in found]


def one_step(body: str) -> ast.Step:
    return parse(body).steps[0]


def dump(node: object) -> object:
    return ast.dump(node, comments=True)


# --------------------------------------------------------------------------------------------
# Flow-level constructs
# --------------------------------------------------------------------------------------------


def test_flow_settings() -> None:
    flow = parse(
        """
        dsl 1
        name "Invoice triage"
        description "Extract totals"
        labels(team: "finance", "app.io/tier": "gold")
        timeout 1h
        concurrency 5 on_limit cancel
        defaults timeout 5m retry(max_attempts: 3, backoff: exponential, delay: 2s,
                                  factor: 1.5, max_delay: "PT1M", jitter: true,
                                  retry_on: [timeout, "http_5xx"])
        step a = core.log()
        """
    )
    assert flow.id == "demo" and flow.syntax == "text"
    assert (flow.name, flow.description) == ("Invoice triage", "Extract totals")
    assert flow.labels == {"team": "finance", "app.io/tier": "gold"}
    assert flow.timeout is not None and flow.timeout.ms == 3_600_000
    assert flow.concurrency is not None
    assert (flow.concurrency.limit, flow.concurrency.on_limit) == (5, "cancel")
    retry = flow.defaults.retry  # type: ignore[union-attr]
    assert retry is not None
    assert (retry.max_attempts, retry.backoff, retry.factor, retry.jitter) == (
        3,
        "exponential",
        1.5,
        True,
    )
    assert retry.delay.ms == 2000 and retry.max_delay.ms == 60_000  # type: ignore[union-attr]
    assert retry.retry_on == ["timeout", "http_5xx"]
    assert flow.defaults.timeout.text == "5m"  # type: ignore[union-attr]


def test_inputs_with_every_option() -> None:
    flow = parse(
        """
        input document: file(accept: ["application/pdf", "image/png"], description: "The scan")
        input threshold: number(minimum: 0, maximum: -1.5) = 1000
        input notify: string?(format: "email")
        input tags: string[]
        input opt: string[]?
        input mode: string(required: false, enum: ["a", "b"]) = "a"
        step a = core.log()
        """
    )
    doc, threshold, notify, tags, opt, mode = flow.inputs
    assert (doc.type, doc.description, doc.options) == (
        "file",
        "The scan",
        {"accept": ["application/pdf", "image/png"]},
    )
    assert threshold.options == {"minimum": 0, "maximum": -1.5}
    assert dump(threshold.default) == {"_": "Scalar", "value": 1000}
    assert (notify.required, notify.options) == (False, {"format": "email"})
    assert (tags.type, tags.options, tags.required) == (
        "array",
        {"items": {"type": "string"}},
        True,
    )
    assert (opt.type, opt.required) == ("array", False)
    assert (mode.required, mode.options) == (False, {"enum": ["a", "b"]})
    assert (doc.span.line, doc.span.column, doc.span.end_column) == (3, 7, 15)


def test_vars_and_outputs_values() -> None:
    flow = parse(
        """
        var currency = "EUR"
        var big = inputs.threshold * 10
        var list = [1, "two", inputs.x, {k: -3}]
        var literal_expr = ${{ [1, 2] }}
        var greeting = "Hi ${{ inputs.name }}!"
        var whole = "${{ inputs.n }}"
        var jinja = "{{ not an expression }}"
        step a = core.log()
        output total = steps.a.output.total
        """
    )
    values = {v.name: v.value for v in flow.vars}
    assert dump(values["currency"]) == {"_": "Scalar", "value": "EUR"}
    big = values["big"]
    assert isinstance(big, ast.ExprValue) and big.source == "inputs.threshold * 10"
    items = values["list"]
    assert isinstance(items, ast.ListValue)
    assert [type(i).__name__ for i in items.items] == ["Scalar", "Scalar", "ExprValue", "MapValue"]
    assert dump(items.items[3]) == {
        "_": "MapValue",
        "entries": [{"_": "Entry", "key": "k", "value": {"_": "Scalar", "value": -3}}],
    }
    lit = values["literal_expr"]
    assert isinstance(lit, ast.ExprValue) and isinstance(lit.expr, ast.ListExpr)
    assert lit.source == "[1, 2]"
    assert isinstance(values["greeting"], ast.Interpolated)
    assert isinstance(values["whole"], ast.ExprValue)
    assert isinstance(values["jinja"], ast.Scalar)
    assert flow.outputs[0].name == "total"


def test_expressions_are_identical_to_parse_expression() -> None:
    text = "steps.a.output.items | join(', ') if inputs.flag else x[1:2]"
    flow = parse(f"step a = core.log()\noutput o = {text}")
    value = flow.outputs[0].value
    assert isinstance(value, ast.ExprValue)
    # the output is on line 3 of the file; `output o = ` is 11 characters wide
    expected = parse_expression(text, Origin("demo.flow", 3, 12, 0), DiagnosticSink())
    assert dump(value.expr) == dump(expected)
    got = [(n.span.line, n.span.column, n.span.end_column) for n in value.expr.walk()]  # type: ignore[union-attr]
    want = [(n.span.line, n.span.column, n.span.end_column) for n in expected.walk()]  # type: ignore[union-attr]
    assert got == want


def test_triggers() -> None:
    flow = parse(
        """
        trigger webhook inbound("invoices", auth: "hmac", secret: secrets.HOOK,
                                inputs: {document: trigger.body.file})
        trigger cron nightly(cron: "0 2 * * *", timezone: "Europe/Berlin", inputs: {threshold: 500})
        trigger event on-upload(on: "document.uploaded",
                                filter: event.document.mime_type == 'application/pdf')
        step a = core.log()
        """
    )
    hook, cron, event = flow.triggers
    assert (hook.type, hook.id, hook.config.keys()) == (
        "webhook",
        "inbound",
        ["path", "auth", "secret"],
    )
    assert hook.inputs is not None and hook.inputs.keys() == ["document"]
    assert cron.config.keys() == ["cron", "timezone"]
    assert event.id == "on-upload" and event.config.keys() == ["on", "filter"]
    assert isinstance(event.config.get("filter").value, ast.ExprValue)  # type: ignore[union-attr]
    assert (event.id_span.line, event.id_span.column, event.id_span.end_column) == (6, 15, 24)


def test_handlers() -> None:
    flow = parse(
        """
        step a = core.log()
        on failure { step report = core.log(message: error.message) }
        on finish { step tidy = core.log() }
        output x = 1
        """
    )
    assert [s.id for s in flow.catch or []] == ["report"]
    assert [s.id for s in flow.finally_ or []] == ["tidy"]


# --------------------------------------------------------------------------------------------
# Every step kind
# --------------------------------------------------------------------------------------------


def test_uses_step_with_every_common_attribute() -> None:
    step = one_step(
        """
        step fetch = http.request@2(url: "https://api.example.com", method: "GET")
          name "Fetch" description "Get items" if inputs.enabled and not vars.off
          timeout 10s retry(max_attempts: 5, delay: 500ms) continue_on_error true
          mock {status: 200}
        """
    )
    assert isinstance(step, ast.UsesStep)
    assert (step.uses, step.name, step.description, step.continue_on_error) == (
        "http.request@2",
        "Fetch",
        "Get items",
        True,
    )
    assert step.args is not None and step.args.keys() == ["url", "method"]
    assert (
        isinstance(step.if_, ast.ExprValue) and step.if_.source == "inputs.enabled and not vars.off"
    )
    assert step.timeout.ms == 10_000  # type: ignore[union-attr]
    assert step.retry.max_attempts == 5  # type: ignore[union-attr]
    assert isinstance(step.mock, ast.MapValue)


def test_uses_step_spans() -> None:
    flow, found = parse_text(
        'flow x {\n  step fetch = http.request(url: "u") timeout 5s\n}', "s.flow"
    )
    assert not found and flow is not None
    step = flow.steps[0]
    assert isinstance(step, ast.UsesStep)
    assert (step.span.line, step.span.column, step.span.end_column) == (2, 3, 49)
    assert (step.id_span.column, step.id_span.end_column) == (8, 13)
    assert (step.uses_span.column, step.uses_span.end_column) == (16, 28)
    entry = step.args.entries[0]  # type: ignore[union-attr]
    assert (entry.span.column, entry.span.end_column) == (29, 32)
    assert (flow.id_span.line, flow.id_span.column, flow.id_span.end_column) == (1, 6, 7)
    assert (flow.span.end_line, flow.span.end_column) == (3, 2)


def test_uses_without_arguments_is_distinct_from_empty_arguments() -> None:
    none, empty = parse("step a = core.noop\nstep b = core.noop()").steps
    assert none.args is None  # type: ignore[attr-defined]
    assert empty.args is not None and empty.args.entries == []  # type: ignore[attr-defined]


def test_group_and_parallel() -> None:
    group, par = parse(
        """
        group prepare { step a = core.log() }
        parallel fan fail_fast false max_concurrency 3 {
          step left = http.request(url: "a")
          group right { step r1 = core.log() }
        }
        """
    ).steps
    assert isinstance(group, ast.GroupStep) and [s.id for s in group.steps] == ["a"]
    assert isinstance(par, ast.ParallelStep)
    assert (par.fail_fast, par.max_concurrency) == (False, 3)
    assert [b.id for b in par.branches] == ["left", "right"]


def test_switch() -> None:
    step = one_step(
        """
        switch route if inputs.go {
          when steps.fetch.output.status == 200 { step ok = core.log() }
          when (x if y else z) { }
          default { step bad = core.log() }
        }
        """
    )
    assert isinstance(step, ast.SwitchStep)
    assert len(step.cases) == 2 and [s.id for s in step.default or []] == ["bad"]
    case = step.cases[0]
    assert (case.span.line, case.span.column) == (4, 3)
    assert isinstance(step.cases[1].when, ast.ExprValue)
    assert isinstance(step.cases[1].when.expr, ast.CondExpr)


def test_foreach() -> None:
    step = one_step(
        """
        foreach each in steps.fetch.output.json.items as row concurrency 4 collect row.id {
          step show = core.log(message: "${{ index }} ${{ row.id }}")
        }
        """
    )
    assert isinstance(step, ast.ForeachStep)
    assert (step.as_, step.concurrency) == ("row", 4)
    assert isinstance(step.items, ast.ExprValue) and isinstance(step.collect, ast.ExprValue)
    assert isinstance(one_step("foreach e in [1, 2] { }"), ast.ForeachStep)
    assert one_step("foreach e in xs { }").as_ == "item"  # type: ignore[attr-defined]


def test_repeat() -> None:
    step = one_step(
        "repeat poll until vars.done max_iterations 20 delay 30s { set check(done: true) }"
    )
    assert isinstance(step, ast.RepeatStep)
    assert (step.max_iterations, step.delay.ms) == (20, 30_000)  # type: ignore[union-attr]
    assert isinstance(step.steps[0], ast.SetStep)


def test_try_catch_finally() -> None:
    step = one_step(
        """
        try guarded timeout 1m {
          step post = http.request(method: "POST")
        } catch {
          step report = core.log(message: error.message)
        } finally {
          step tidy = core.log()
        }
        """
    )
    assert isinstance(step, ast.TryStep)
    assert [s.id for s in step.try_] == ["post"]
    assert [s.id for s in step.catch or []] == ["report"]
    assert [s.id for s in step.finally_ or []] == ["tidy"]
    only_finally = one_step("try t { } finally { }")
    assert only_finally.catch is None and only_finally.finally_ == []  # type: ignore[attr-defined]


def test_wait_call_set_fail_return() -> None:
    wait, wait_until, call, set_, fail, ret, ret_empty = parse(
        """
        wait pause 10m
        wait later until inputs.deadline
        call child = billing-sync(account: inputs.account)
        set count(done: true, total: vars.total + 1)
        fail stop(message: "no items", type: "empty_input")
        return early(reason: "nothing-to-do")
        return done
        """
    ).steps
    assert isinstance(wait, ast.WaitStep) and wait.duration.ms == 600_000  # type: ignore[union-attr]
    assert isinstance(wait_until, ast.WaitStep) and isinstance(wait_until.until, ast.ExprValue)
    assert isinstance(call, ast.CallStep) and call.flow == "billing-sync"
    assert (call.flow_span.column, call.flow_span.end_column) == (14, 26)
    assert isinstance(set_, ast.SetStep) and set_.values.keys() == ["done", "total"]
    assert isinstance(fail, ast.FailStep)
    assert dump(fail.message) == {"_": "Scalar", "value": "no items"}
    assert dump(fail.type) == {"_": "Scalar", "value": "empty_input"}
    assert isinstance(ret, ast.ReturnStep) and ret.values.keys() == ["reason"]
    assert isinstance(ret_empty, ast.ReturnStep) and ret_empty.values.entries == []


def test_comments_attach_to_the_step_below() -> None:
    flow = parse(
        """
        # not attached: a blank line follows

        # Fetch the items
        #   (twice if needed)
        step a = core.log()  # trailing comments are not attached
        step b = core.log()
        group g {
          # inner
          step c = core.log()
        }
        """
    )
    a, b, g = flow.steps
    assert a.comments == ["Fetch the items", "  (twice if needed)"]  # inner indent is kept
    assert not b.comments
    assert g.steps[0].comments == ["inner"]  # type: ignore[attr-defined]


def test_keywords_can_be_ids_and_keys() -> None:
    step = one_step('step timeout = core.log(if: 1, step: "x", default: inputs.default)')
    assert step.id == "timeout"
    assert step.args.keys() == ["if", "step", "default"]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


def test_e002_lists_expected_tokens_in_words() -> None:
    (found,) = diags("flow x {\n  step a core.log()\n}")
    code, message, line, col = found
    assert (code, line, col) == ("E002", 2, 10)
    assert message == "unexpected name 'core'; expected '='"


def test_e002_friendly_hint_from_examples() -> None:
    _, found = parse_text("flow x {\n  step a = core.log(message)\n}", "f.flow")
    assert found[0].code == "E002"
    assert found[0].hint == "arguments are written name: value"
    _, found = parse_text("flow x { step a = core.log() input y: string }", "f.flow")
    assert found[0].hint == "settings, inputs, vars and triggers come before the steps"


def test_e002_at_end_of_file() -> None:
    (found,) = diags("flow x {\n  step a = core.log()\n")
    assert found[0] == "E002" and "end of the file" in found[1]
    assert "a step (step, call" in found[1] and "'}'" in found[1]


def test_e002_unterminated_string() -> None:
    assert diags('flow x {\n  var a = "abc\n}') == [("E002", "unterminated string", 2, 11)]


def test_e003_inside_interpolated_string() -> None:
    found = diags('flow x {\n  step a = core.log(message: "n=${{ 1 + }}")\n}')
    assert found == [("E003", "expected an expression after '+'", 2, 39)]


def test_e010_unknown_and_misplaced_attributes() -> None:
    found = diags("flow x {\n  step a = core.log() timout 5s\n  step b = core.log() as row\n}")
    assert found[0][:2] == ("E010", "unknown step attribute 'timout'")
    assert (found[0][2], found[0][3]) == (2, 23)
    assert found[1][:2] == ("E010", "'as' is not an attribute of a uses step")
    _, found_d = parse_text("flow x {\n  step a = core.log() timout 5s\n}", "f.flow")
    assert found_d[0].hint == "did you mean 'timeout'?"


def test_e011_missing_pieces() -> None:
    assert diags("flow x {\n  repeat r { }\n}")[0][:2] == (
        "E011",
        "repeat step 'r' needs until and max_iterations",
    )
    assert diags("flow x {\n  wait w\n}")[0][:2] == (
        "E011",
        "wait step 'w' needs a duration or 'until'",
    )
    assert diags('flow x {\n  fail f(type: "t")\n}')[0][:2] == (
        "E011",
        "fail step 'f' needs a message",
    )
    assert diags("flow x {\n  var a = 1\n}")[0][:2] == ("E011", "flow 'x' has no steps")


def test_e012_invalid_durations() -> None:
    found = diags('flow x {\n  step a = core.log() timeout "5 minutes"\n}')
    assert found == [("E012", "invalid duration '5 minutes'", 2, 31)]
    found = diags('flow x {\n  step a = core.log() retry(delay: "1.5s")\n}')
    assert found[0][:2] == ("E012", "invalid duration '1.5s'")


def test_e012_bad_retry_and_labels() -> None:
    found = diags('flow x {\n  labels(team: 1)\n  step a = core.log() retry(max_attempts: "3")\n}')
    assert [f[:2] for f in found] == [
        ("E012", "label 'team' must be a string"),
        ("E012", "retry max_attempts must be a whole number"),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "",
        "flow",
        "flow x",
        "flow x {",
        "flow x { step",
        "flow x { step a = ",
        "flow x { step a = b.c(",
        "flow x { step a = b.c(k: ",
        "flow x { switch s { when } }",
        "flow x { step a = b.c() if in }",
        "flow x { } }",
        "}{",
        "flow x { step a = b.c() } flow y { }",
        "\x00\x01",
    ],
)
def test_truncated_and_garbage_input_is_diagnosed(source: str) -> None:
    _, found = parse_text(source, "bad.flow")
    assert found and all(d.code.startswith("E") for d in found)


def test_deep_nesting_never_raises() -> None:
    depth = 400
    source = "flow x {\n" + "group g {\n" * depth + "step a = core.log()\n" + "}\n" * depth + "}"
    flow, found = parse_text(source, "deep.flow")
    assert flow is not None or found
    parse_text("flow x { var a = " + "[" * 3000 + " }", "deep.flow")


_PIECES = ["flow x {", "}", "{", "step a = ", "core.log", "(", ")", "k: ", "1", '"s"', ",", " ",
           "\n", "if ", "timeout 5m", "switch s", "when ", "default", "foreach e in xs", "#c\n",
           "${{", "}}", "try t", "catch", "x.y", "+", "[", "]"]  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_random_input_never_raises(source: str) -> None:
    flow, found = parse_text(source, "fuzz.flow")
    assert flow is not None or found


@given(st.text(max_size=60))
def test_random_text_never_raises(source: str) -> None:
    parse_text(source, "fuzz.flow")
