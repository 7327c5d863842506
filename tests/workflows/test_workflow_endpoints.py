"""GET /workflow and GET /workflow/diagram come from the one table."""

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.common.enums import CaseState
from app.workflows import diagram
from app.workflows.case_workflow import GUARDS, PAUSABLE, TABLE


@pytest.fixture
def graphviz_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Each Graphviz run from a process that has rendered nothing yet (the real `dot` runs: the
    wrapper only records it)."""
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz (dot) is not installed; .ci/run installs it")
        pytest.skip("Graphviz is not installed (apt-get install -y graphviz)")
    runs: list[list[str]] = []
    real = subprocess.run

    def recorded(args: list[str], *rest: Any, **kw: Any) -> Any:
        runs.append(list(args))
        return real(args, *rest, **kw)

    monkeypatch.setattr(subprocess, "run", recorded)
    diagram.render.cache_clear()
    yield runs
    diagram.render.cache_clear()


class TestWorkflowJson:
    async def test_lists_exactly_the_table(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/workflow")
        assert r.status_code == 200
        body = r.json()
        assert body["states"] == [s.value for s in CaseState]
        assert body["initial"] == "referred"
        assert [t["trigger"] for t in body["transitions"]] == [t.trigger for t in TABLE]
        for listed, row in zip(body["transitions"], TABLE, strict=True):
            assert listed["from"] == [s.value for s in row.sources]
            to = row.dest.value if row.dest else "the state it was paused from"
            if row.instead is not None:
                assert listed["to"] == [row.instead[1].value, to]
                assert GUARDS[row.instead[2]].description in listed["condition"]
            elif row.stays_while is None:
                assert listed["to"] == to
                assert "condition" not in listed
            else:
                assert listed["to"] == ["(unchanged)", to]
                assert (
                    listed["condition"]
                    == f"unchanged while {GUARDS[row.stays_while].description}; otherwise {to}"
                )
            assert set(listed["who"]) == {r.value for r in row.who} | (
                {"automatic"} if row.automatic else set()
            ) | ({"system"} if row.by_system else set())
            assert listed["guards"] == [{"name": g, "description": GUARDS[g].description} for g in row.guards]

    async def test_call_off_is_fired_by_the_system_or_a_practitioner(self, client: httpx.AsyncClient) -> None:
        listed = next(
            t for t in (await client.get("/workflow")).json()["transitions"] if t["trigger"] == "call_off"
        )
        assert listed["from"] == ["conference", "shuttle_mediation"]
        assert listed["to"] == ["shuttle_mediation", "assessment"]
        assert sorted(listed["who"]) == ["practitioner", "system"]
        assert [g["name"] for g in listed["guards"]] == ["reason_given"]

    async def test_a_withdrawal_the_others_go_on_after_leaves_the_state_unchanged(
        self, client: httpx.AsyncClient
    ) -> None:
        withdraw = next(
            t for t in (await client.get("/workflow")).json()["transitions"] if t["trigger"] == "withdraw"
        )
        assert withdraw["to"] == ["(unchanged)", "follow_up"]
        assert withdraw["condition"].startswith(
            "unchanged while the other parties still taking part meet the pairing rule"
        )
        assert withdraw["from"][-1] == "on_hold"

    async def test_needs_no_key(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/workflow")).status_code == 200


class TestWorkflowDiagram:
    async def test_mermaid_has_every_transition_of_the_table(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/workflow/diagram")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert "stateDiagram-v2" in r.text
        for state in CaseState:
            assert f'state "{state.value}" as {state.value}' in r.text
        # Edges between the same two states are drawn once, their labels joined by " | ".
        drawn = set()
        for line in r.text.splitlines():
            edge, _, labels = line.strip().partition(": ")
            if " --> " in edge and not edge.startswith("[*]"):
                source, dest = edge.split(" --> ")
                drawn |= {(source, dest, label) for label in labels.split(" | ")}
        expected = set()
        for row in TABLE:
            label = row.trigger + (f" [{' & '.join(row.guards)}]" if row.guards else "")
            for source in row.sources:
                if row.instead is not None and source == row.instead[0]:
                    # The other way out while its condition holds, the table's move otherwise.
                    conditions = " & ".join(row.guards)
                    other, condition = row.instead[1], row.instead[2]
                    expected.add((source.value, other.value, f"{row.trigger} [{conditions} & {condition}]"))
                    assert row.dest is not None
                    expected.add(
                        (source.value, row.dest.value, f"{row.trigger} [{conditions} & !{condition}]")
                    )
                    continue
                if row.stays_while is not None:
                    # A self-loop while the stay condition holds, the table's move when it does not.
                    conditions = " & ".join(row.guards)
                    expected.add(
                        (source.value, source.value, f"{row.trigger} [{conditions} & {row.stays_while}]")
                    )
                    assert row.dest is not None
                    expected.add(
                        (source.value, row.dest.value, f"{row.trigger} [{conditions} & !{row.stays_while}]")
                    )
                    continue
                for dest in [row.dest] if row.dest else PAUSABLE:
                    expected.add((source.value, dest.value, label))
        assert drawn == expected
        assert {label.split(" ")[0] for _, _, label in drawn} == {t.trigger for t in TABLE}

    async def test_unknown_format_is_422(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/workflow/diagram", params={"format": "png"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"

    async def test_svg_is_rendered_once_for_many_requests(
        self, client: httpx.AsyncClient, graphviz_runs: list[list[str]]
    ) -> None:
        first = await asyncio.gather(*(client.get("/workflow/diagram?format=svg") for _ in range(8)))
        again = [await client.get("/workflow/diagram?format=svg") for _ in range(4)]
        assert {r.status_code for r in first + again} == {200}
        assert {r.headers["content-type"] for r in first + again} == {"image/svg+xml"}
        assert len({r.content for r in first + again}) == 1
        assert "<svg" in first[0].text and all(f">{t.trigger}" in first[0].text for t in TABLE[:3])
        assert [run[1:] for run in graphviz_runs] == [["-Tsvg"]]
