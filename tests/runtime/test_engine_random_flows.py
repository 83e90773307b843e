"""Random nested flows: the engine always reaches an end, never raises, and keeps a JSON state
(the driver re-encodes it after every event)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.stdlib.errors import NodeError
from tests.runtime.driver import Run, compile_plan
from tests.runtime.engine_helpers import by_url, fails

OK = "https://ok.example.com"
BAD = "https://bad.example.com"

leaves = st.one_of(
    st.just({"set": {"n": "${{ vars.n + 1 }}"}}),
    st.builds(
        lambda url, retry, soft: {
            "uses": "http.request",
            "with": {"url": url},
            **({"retry": {"max_attempts": 2, "delay": "1s"}} if retry else {}),
            **({"continue_on_error": True} if soft else {}),
        },
        st.sampled_from([OK, OK, BAD]),
        st.booleans(),
        st.booleans(),
    ),
    st.just({"fail": "stop"}),
    st.just({"return": {"early": True}}),
    st.just({"wait": "1s"}),
    st.just({"if": "${{ vars.n > 2 }}", "set": {"n": 0}}),
)


def containers(children: st.SearchStrategy[list[dict[str, Any]]]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda body: {"steps": body}),
        st.builds(lambda body, ff: {"parallel": body, "fail_fast": ff}, children, st.booleans()),
        st.builds(
            lambda body, c: {"foreach": "${{ [1, 2, 3] }}", "concurrency": c, "steps": body},
            children,
            st.integers(1, 3),
        ),
        children.map(
            lambda body: {
                "repeat": {"until": "${{ iteration >= 2 }}", "max_iterations": 3},
                "steps": body,
            }
        ),
        st.builds(lambda body, handler: {"try": body, "catch": handler}, children, children),
        st.builds(
            lambda a, b: {"switch": [{"when": "${{ vars.n > 1 }}", "steps": a}, {"default": b}]},
            children,
            children,
        ),
    )


steps = st.recursive(
    leaves, lambda inner: containers(st.lists(inner, min_size=1, max_size=3)), max_leaves=12
)


def with_ids(step: Any, counter: itertools.count) -> Any:
    if isinstance(step, list):
        return [with_ids(s, counter) for s in step]
    if not isinstance(step, dict):
        return step
    out: dict[str, Any] = {}
    if (
        any(
            k in step
            for k in (
                "set",
                "uses",
                "fail",
                "return",
                "wait",
                "steps",
                "parallel",
                "foreach",
                "repeat",
                "try",
                "switch",
            )
        )
        and "when" not in step
    ):
        out["id"] = f"s{next(counter)}"
    for key, value in step.items():
        if key in ("steps", "parallel", "try", "catch", "default"):
            out[key] = with_ids(value, counter)
        elif key == "switch":
            out[key] = [with_ids_case(case, counter) for case in value]
        else:
            out[key] = value
    return out


def with_ids_case(case: dict[str, Any], counter: itertools.count) -> dict[str, Any]:
    return {k: (with_ids(v, counter) if isinstance(v, list) else v) for k, v in case.items()}


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(main=st.lists(steps, min_size=1, max_size=4), use_catch=st.booleans())
def test_random_flows_always_end(main: list[Any], use_catch: bool) -> None:
    counter = itertools.count()
    flow: dict[str, Any] = {"vars": {"n": 0}, "steps": with_ids(main, counter)}
    if use_catch:
        flow["catch"] = with_ids([{"set": {"caught": "${{ error.type }}"}}], counter)
        flow["finally"] = with_ids([{"set": {"n": "${{ vars.n + 100 }}"}}], counter)
    plan = compile_plan(json.dumps({"flow": "t", **flow}, indent=1))
    r = Run(plan, handlers={"http.request": by_url({BAD: fails("bad")})}).start()
    assert r.finish is not None
    assert r.finish.status in ("succeeded", "failed")
    if r.finish.status == "failed":
        assert set(r.finish.error) == {"message", "type", "step", "details", "attempts"}
    assert r.state["acts"] == {} and r.state["keys"] == {}


def step_once(r: Run) -> bool:
    """Answer one dispatched step, or fire one timer; False when there is nothing to do."""
    if r.dispatched:
        step = r.dispatched.pop(0)
        engine = r.engine()
        try:
            output = r.handlers["http.request"](step.args, step.attempt)
        except NodeError as exc:
            error = engine.to_error(exc, step.node_id, step.attempt)
            r._apply(engine, engine.step_finished(step.step_key, step.attempt, error=error))
        else:
            r._apply(engine, engine.step_finished(step.step_key, step.attempt, output=output))
        return True
    if r.timers:
        r.timers.sort()
        due, _, timer = r.timers.pop(0)
        r.clock = max(r.clock, due)
        engine = r.engine()
        r._apply(engine, engine.timer_fired(timer.kind, timer.payload))
        return True
    return False


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(main=st.lists(steps, min_size=1, max_size=4), events=st.integers(0, 12))
def test_cancelling_a_random_flow_at_any_point_leaves_nothing_running(
    main: list[Any], events: int
) -> None:
    plan = compile_plan(
        json.dumps({"flow": "t", "vars": {"n": 0}, "steps": with_ids(main, itertools.count())})
    )
    r = Run(plan, handlers={"http.request": by_url({BAD: fails("bad")})})
    engine = r.engine()
    r._apply(engine, engine.start())
    for _ in range(events):
        if r.finish is not None or not step_once(r):
            break
    if r.finish is not None:
        return
    running = set(r.state["keys"])
    engine = r.engine()
    actions = engine.cancel()
    r._apply(engine, actions)
    assert r.finish is not None and r.finish.status == "cancelled"
    assert r.state["acts"] == {} and r.state["keys"] == {}
    cancelled = {rec.step_key for rec in r.records if rec.status == "cancelled"}
    assert running <= cancelled
