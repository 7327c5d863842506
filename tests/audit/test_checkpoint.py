"""Checkpoints: every chain's head published, signed, outside the database; a chain rewritten
whole (hashes and kept head included) verifies against itself, and fails against the checkpoint."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlmodel import col

from app import clock
from app.audit import checkpoints
from app.cli import main
from app.config import Settings, get_settings
from app.events.service import AUDIT_CHECKPOINT
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.models.events import OutboxEvent
from app.timed_work.runner import run_once
from tests.audit.forge import rehash_chain, tamper
from tests.records import audit_records
from tests.support import Api

KEY = "test-checkpoint-key"


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("RJ_AUDIT_CHECKPOINT_KEY", KEY)
    get_settings.cache_clear()


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`rj-casework <args>` against the test database."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def rewrite_risk_level(api: Api, case_id: str) -> AuditRecord:
    """The case's second record says another risk level, and the chain is rehashed to match."""
    target = (await audit_records(api.db, case_id))[1]
    assert target.after is not None
    await tamper(
        api.db,
        update(AuditRecord)
        .where(col(AuditRecord.id) == target.id)
        .values(after={**target.after, "riskLevel": "low"}),
    )
    await rehash_chain(api.db, case_id)
    return target


class TestRewrittenChain:
    async def test_without_a_checkpoint_it_verifies_against_itself(self, api: Api) -> None:
        case = await api.to_state("assessment")
        await rewrite_risk_level(api, case["id"])

        r = await api.client.get("/audit/verify", headers=api.keys.auditor.headers)

        assert r.json()["valid"] is True  # what checkpoints are for

    async def test_against_the_last_checkpoint_it_fails_naming_the_chain(
        self, api: Api, signing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await api.to_state("assessment")
        other = await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        code, out, err = await cli(capsys, "audit", "checkpoint", "--out", str(path))
        assert code == 0, err
        assert out.startswith(f"wrote {path}: the heads of")
        published = json.loads(path.read_text())
        head = next(h for h in published["heads"] if h[0] == case["id"])
        await api.must_fire(other["id"], "decline", reason="unsuitable")  # written after: fine
        await rewrite_risk_level(api, case["id"])

        code, out, err = await cli(capsys, "audit", "verify", "--checkpoint", str(path))

        assert code == 1 and out == ""
        problem = json.loads(err.split(": ", 2)[2])
        at_head = (await audit_records(api.db, case["id"]))[head[1] - 1]
        created = datetime.fromisoformat(published["createdAt"]).isoformat(timespec="seconds")
        assert problem == {
            "id": at_head.id,
            "chain": case["id"],
            "seq": head[1],
            "reason": f"not the record the checkpoint of {created} published as the chain's head: "
            "the chain was rewritten",
        }

    async def test_an_untouched_trail_holds_every_published_head(
        self, api: Api, signing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        assert (await cli(capsys, "audit", "checkpoint", "--out", str(path)))[0] == 0
        await api.must_fire(case["id"], "decline", reason="unsuitable")

        code, out, err = await cli(capsys, "audit", "verify", "--checkpoint", str(path))

        assert code == 0, err
        chains = len(json.loads(path.read_text())["heads"])
        assert out.splitlines()[1].startswith(
            f"every chain holds the head published in {path} ({chains} chains"
        )

    async def test_a_chain_cut_below_its_published_head_fails(
        self, api: Api, signing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        assert (await cli(capsys, "audit", "checkpoint", "--out", str(path)))[0] == 0
        records = await audit_records(api.db, case["id"])
        await tamper(
            api.db,
            delete(AuditRecord).where(col(AuditRecord.id) == records[-1].id),
            update(Case).where(col(Case.id) == records[0].case_id).values(audit_seq=len(records) - 1),
        )
        await rehash_chain(api.db, case["id"])
        assert (await api.client.get("/audit/verify", headers=api.keys.auditor.headers)).json()["valid"]

        code, _out, err = await cli(capsys, "audit", "verify", "--checkpoint", str(path))

        assert code == 1
        problem = json.loads(err.split(": ", 2)[2])
        assert (problem["chain"], problem["seq"], "id" in problem) == (case["id"], len(records), False)


class TestCheckpointFile:
    async def test_one_changed_by_hand_is_refused(
        self, api: Api, signing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        assert (await cli(capsys, "audit", "checkpoint", "--out", str(path)))[0] == 0
        data = json.loads(path.read_text())
        data["heads"] = [h for h in data["heads"] if h[0] != case["id"]]
        path.write_text(json.dumps(data))

        code, out, err = await cli(capsys, "audit", "verify", "--checkpoint", str(path))

        assert (code, out) == (1, "")
        assert err == (
            f"rj-casework: checkpoint {path} is not signed with RJ_AUDIT_CHECKPOINT_KEY "
            "(changed since, or another key's)\n"
        )

    async def test_one_signed_with_another_key_is_refused(
        self,
        api: Api,
        signing: None,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        assert (await cli(capsys, "audit", "checkpoint", "--out", str(path)))[0] == 0
        monkeypatch.setenv("RJ_AUDIT_CHECKPOINT_KEY", "another key")
        get_settings.cache_clear()

        code, _out, err = await cli(capsys, "audit", "verify", "--checkpoint", str(path))

        assert code == 1 and "is not signed with RJ_AUDIT_CHECKPOINT_KEY" in err

    async def test_none_is_written_without_a_key(
        self, api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Settings
    ) -> None:
        code, _out, err = await cli(capsys, "audit", "checkpoint", "--out", str(tmp_path / "c.json"))
        assert code == 1 and "RJ_AUDIT_CHECKPOINT_KEY" in err
        assert not (tmp_path / "c.json").exists()

    def test_a_folder_without_a_key_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="set RJ_AUDIT_CHECKPOINT_KEY too"):
            Settings(audit_checkpoint_dir="/tmp/checkpoints")  # noqa: S108 - never written


class TestPublished:
    async def test_the_event_carries_the_digest_of_the_heads(
        self, api: Api, signing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await api.to_state("assessment")
        path = tmp_path / "checkpoint.json"
        assert (await cli(capsys, "audit", "checkpoint", "--out", str(path)))[0] == 0
        published = json.loads(path.read_text())

        async with api.db.transaction() as session:
            [event] = (
                await session.execute(
                    select(OutboxEvent).where(col(OutboxEvent.event_type) == AUDIT_CHECKPOINT)
                )
            ).scalars()
        info: dict[str, Any] = event.payload["additionalInformation"]
        assert info == {
            "createdAt": published["createdAt"],
            "chains": len(published["heads"]),
            "digest": published["digest"],
        }
        assert checkpoints.load(path).digest == info["digest"]

    async def test_the_timed_work_writes_one_each_interval_and_verify_takes_the_newest(
        self,
        api: Api,
        signing: None,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("RJ_AUDIT_CHECKPOINT_DIR", str(tmp_path))
        monkeypatch.setenv("RJ_AUDIT_CHECKPOINT_INTERVAL_MINUTES", "60")
        get_settings.cache_clear()
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        clock.freeze(now)
        case = await api.to_state("assessment")

        assert (await run_once(api.db))["auditCheckpoints"] == 1
        clock.advance(timedelta(minutes=59))
        assert (await run_once(api.db))["auditCheckpoints"] == 0
        await api.must_fire(case["id"], "decline", reason="unsuitable")
        clock.advance(timedelta(minutes=1))
        assert (await run_once(api.db))["auditCheckpoints"] == 1

        files = sorted(tmp_path.glob("audit-checkpoint-*.json"))
        assert [f.name for f in files] == [
            "audit-checkpoint-20260302T090000000000Z.json",
            "audit-checkpoint-20260302T100000000000Z.json",
        ]
        newest = {h[0]: h[1] for h in json.loads(files[-1].read_text())["heads"]}
        assert newest[case["id"]] == len(await audit_records(api.db, case["id"]))
        await rewrite_risk_level(api, case["id"])
        code, _out, err = await cli(capsys, "audit", "verify")
        assert code == 1
        assert json.loads(err.split(": ", 2)[2])["seq"] == newest[case["id"]]
