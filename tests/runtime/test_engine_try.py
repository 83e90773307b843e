"""``try``/``catch``/``finally`` steps and the flow's own ``catch`` and ``finally``; the
``error`` object in their scopes (docs/dsl.md §8.8, §9, §10)."""

from __future__ import annotations

from tests.runtime.engine_helpers import fails, http, run, statuses

ERROR_KEYS = ["attempts", "details", "message", "step", "type"]


def test_catch_runs_with_the_error_and_the_flow_goes_on() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try:
      - {http("post", extra=", retry: { max_attempts: 2, delay: 1s }")}
      - {http("never")}
    catch:
      - {{ id: report, set: {{ error: "${{{{ error }}}}" }} }}
  - {http("after")}
outputs:
  error: ${{{{ vars.error }}}}
  guarded: ${{{{ steps.guarded.status }}}}
  post: ${{{{ steps.post.status }}}}
""",
        {"https://post.example.com": fails("erp down", type="http_status", data={"status": 502})},
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {
        "error": {
            "message": "erp down",
            "type": "http_status",
            "step": "post",
            "details": {"status": 502},
            "attempts": 2,
        },
        "guarded": "succeeded",
        "post": "failed",
    }
    assert [key for key, _ in r.calls] == ["post", "post", "after"]


def test_the_error_of_a_fail_step_in_catch_scope() -> None:
    r = run(
        """
steps:
  - id: guarded
    try:
      - { id: stop, fail: { message: "no items", type: empty_input } }
    catch:
      - { id: report, set: { error: "${{ error }}" } }
outputs: { error: "${{ vars.error }}" }
"""
    )
    assert r.finish.outputs["error"] == {
        "message": "no items",
        "type": "empty_input",
        "step": "stop",
        "details": None,
        "attempts": 1,
    }


def test_finally_runs_after_success_with_a_null_error() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try: [ {http("post")} ]
    finally:
      - {{ id: tidy, set: {{ error: "${{{{ error }}}}", tidied: true }} }}
outputs: {{ error: "${{{{ vars.error }}}}", tidied: "${{{{ vars.tidied }}}}" }}
"""
    )
    assert r.finish.outputs == {"error": None, "tidied": True}


def test_finally_without_catch_runs_then_the_failure_goes_on() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try: [ {http("post")} ]
    finally:
      - {{ id: tidy, set: {{ seen: "${{{{ error.message }}}}" }} }}
  - {http("never")}
""",
        {"https://post.example.com": fails("down")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "down" and r.finish.error["step"] == "post"
    assert statuses(r) == {"post": "failed", "tidy": "succeeded", "guarded": "failed"}
    assert [key for key, _ in r.calls] == ["post"]


def test_finally_runs_after_catch_and_sees_the_original_error() -> None:
    r = run(
        f"""
vars: {{ order: [] }}
steps:
  - id: guarded
    try: [ {http("post")} ]
    catch:
      - {{ id: c, set: {{ order: "${{{{ vars.order + ['catch'] }}}}" }} }}
    finally:
      - {{ id: f, set: {{ order: "${{{{ vars.order + ['finally', error.type] }}}}" }} }}
outputs: {{ order: "${{{{ vars.order }}}}" }}
""",
        {"https://post.example.com": fails(type="http_status")},
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"order": ["catch", "finally", "http_status"]}


def test_a_failing_catch_fails_the_try_with_the_catch_error_after_finally() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try: [ {http("post")} ]
    catch:
      - {{ id: rethrow, fail: {{ message: "wrapped: ${{{{ error.message }}}}", type: wrapped }} }}
    finally:
      - {{ id: f, set: {{ ran: true }} }}
""",
        {"https://post.example.com": fails("down")},
    )
    assert r.finish.status == "failed"
    assert (r.finish.error["message"], r.finish.error["type"]) == ("wrapped: down", "wrapped")
    assert statuses(r)["f"] == "succeeded"


def test_a_failing_finally_fails_the_try_even_after_success() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try: [ {http("post")} ]
    finally:
      - {{ id: f, fail: "cleanup failed" }}
"""
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "cleanup failed"


def test_nested_try_the_inner_catch_handles_and_the_outer_catch_does_not_run() -> None:
    r = run(
        f"""
steps:
  - id: outer
    try:
      - id: inner
        try: [ {http("post")} ]
        catch: [ {{ id: ic, set: {{ by: inner }} }} ]
    catch: [ {{ id: oc, set: {{ by: outer }} }} ]
outputs: {{ by: "${{{{ vars.by }}}}" }}
""",
        {"https://post.example.com": fails()},
    )
    assert r.finish.outputs == {"by": "inner"}
    assert "oc" not in statuses(r)


def test_an_error_inside_a_foreach_reaches_an_enclosing_catch() -> None:
    r = run(
        """
steps:
  - id: guarded
    try:
      - id: each
        foreach: ${{ [1, 2] }}
        steps: [ { id: s, fail: { message: "item ${{ item }}", type: bad_item } } ]
    catch: [ { id: c, set: { error: "${{ error }}" } } ]
outputs: { error: "${{ vars.error }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs["error"]["message"] == "item 1"
    assert r.finish.outputs["error"]["step"] == "s"


def test_a_catch_sees_the_enclosing_loop_variable() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ ['a', 'b'] }}
    collect: ${{ vars.got }}
    steps:
      - id: guarded
        try: [ { id: s, fail: "bad ${{ item }}" } ]
        catch: [ { id: c, set: { got: "${{ item ~ ':' ~ error.message }}" } } ]
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert r.finish.outputs == {"out": ["a:bad a", "b:bad b"]}


# ----------------------------------------------------------------------------- the flow's


def test_the_flow_catch_runs_with_the_error_and_the_execution_still_fails() -> None:
    r = run(
        f"""
steps:
  - {http("a")}
catch:
  - {{ id: alert, uses: http.request, with: {{ url: "https://alert.example.com/${{{{ error.step }}}}" }} }}
finally:
  - {{ id: tidy, uses: http.request, with: {{ url: "https://tidy.example.com/${{{{ error.type }}}}" }} }}
outputs: {{ x: 1 }}
""",
        {"https://a.example.com": fails("down", type="http_status")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "down"
    assert r.finish.outputs is None
    assert [key for key, _ in r.calls] == ["a", "alert", "tidy"]
    assert statuses(r)["alert"] == "succeeded"
    dispatched = {rec.step_key: rec for rec in r.records if rec.finished}
    assert dispatched["alert"].output["url"] == "https://alert.example.com/a"
    assert dispatched["tidy"].output["url"] == "https://tidy.example.com/http_status"


def test_the_flow_catch_does_not_run_when_the_main_steps_succeed() -> None:
    r = run(
        f"""
steps: [ {http("a")} ]
catch: [ {http("alert")} ]
finally:
  - {{ id: tidy, set: {{ error: "${{{{ error }}}}" }} }}
outputs: {{ ok: true }}
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"ok": True}
    assert [key for key, _ in r.calls] == ["a"]
    assert statuses(r)["tidy"] == "succeeded"


def test_a_failing_flow_finally_fails_a_successful_execution() -> None:
    r = run(
        f"""
steps: [ {http("a")} ]
finally: [ {{ id: tidy, fail: "cleanup failed" }} ]
"""
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "cleanup failed"


def test_a_failing_flow_catch_keeps_the_original_error_and_finally_still_runs() -> None:
    r = run(
        f"""
steps: [ {http("a")} ]
catch: [ {{ id: alert, fail: "alerting failed" }} ]
finally: [ {http("tidy")} ]
""",
        {"https://a.example.com": fails("original")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "original"
    assert [key for key, _ in r.calls] == ["a", "tidy"]
    assert any("alerting failed" in log.message for log in r.logs)


def test_return_skips_enclosing_finally_but_the_flow_finally_runs() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try:
      - {{ id: early, return: {{ why: early }} }}
    finally: [ {http("inner_finally")} ]
finally: [ {http("flow_finally")} ]
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"why": "early"}
    assert [key for key, _ in r.calls] == ["flow_finally"]


def test_return_in_the_flow_finally_merges_its_values() -> None:
    r = run(
        """
steps: [ { id: a, set: { x: 1 } } ]
finally: [ { id: late, return: { from_finally: true } } ]
outputs: { x: "${{ vars.x }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"x": 1, "from_finally": True}


def test_error_objects_have_exactly_the_documented_fields() -> None:
    r = run(
        f"""
steps:
  - id: g
    try: [ {http("a")} ]
    catch: [ {{ id: c, set: {{ keys: "${{{{ keys(error) }}}}" }} }} ]
outputs: {{ keys: "${{{{ vars.keys | sort }}}}", step_error: "${{{{ keys(steps.a.error | default({{}})) | sort }}}}" }}
""",
        {"https://a.example.com": fails(retry_after=3)},
    )
    assert r.finish.outputs == {"keys": ERROR_KEYS, "step_error": ERROR_KEYS}


def test_return_inside_a_catch_ends_the_execution_successfully() -> None:
    r = run(
        f"""
steps:
  - id: guarded
    try: [ {http("post")} ]
    catch: [ {{ id: early, return: {{ handled: "${{{{ error.type }}}}" }} }} ]
  - {http("never")}
""",
        {"https://post.example.com": fails(type="http_status")},
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"handled": "http_status"}
    assert [key for key, _ in r.calls] == ["post"]


def test_return_in_the_flow_catch_does_not_make_the_execution_succeed() -> None:
    r = run(
        f"""
steps: [ {http("a")} ]
catch: [ {{ id: early, return: {{ x: 1 }} }} ]
finally: [ {http("tidy")} ]
""",
        {"https://a.example.com": fails("original")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "original"
    assert [key for key, _ in r.calls] == ["a", "tidy"]
