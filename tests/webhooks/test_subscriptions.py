"""Webhook subscriptions: made, listed and removed by an admin; only to allowed targets."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app.db import Database
from app.models.audit import AuditRecord
from app.models.webhooks import WebhookSubscription
from tests.support import Keys
from tests.webhooks.conftest import ALL_TYPES, SECRET, subscribe

PATH = "/webhook-subscriptions"


def body(url: str = "https://hooks.example.org/rj", **changes: Any) -> dict[str, Any]:
    return {"url": url, "eventTypes": ["restorative-justice.case.created"], "secret": SECRET, **changes}


class TestSubscribe:
    async def test_an_admin_subscribes_and_the_secret_is_never_shown(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, allow_private: None
    ) -> None:
        made = await subscribe(client, keys, "http://127.0.0.1:9/hook", ALL_TYPES[:2])
        assert made["url"] == "http://127.0.0.1:9/hook"
        assert made["eventTypes"] == sorted(ALL_TYPES[:2])
        assert made["active"] is True
        assert "secret" not in made
        listed = (await client.get(PATH, headers=keys.admin.headers)).json()
        assert [s["id"] for s in listed["content"]] == [made["id"]]
        assert "secret" not in listed["content"][0]
        async with db.transaction() as session:
            record = (
                await session.execute(
                    select(AuditRecord).where(col(AuditRecord.action) == "webhook.subscribed")
                )
            ).scalar_one()
        assert record.entity_id == made["id"]
        assert SECRET not in str(record.after)

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.10/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://0.0.0.0/hook",
        ],
    )
    async def test_private_and_loopback_targets_are_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, url: str
    ) -> None:
        r = await client.post(PATH, json=body(url), headers=keys.admin.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errorCode"] == "TARGET_NOT_ALLOWED"
        async with db.transaction() as session:
            assert (await session.execute(select(WebhookSubscription))).first() is None

    @pytest.mark.parametrize(
        "host",
        [
            "[::127.0.0.1]",
            "[::ffff:0:7f00:1]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b:1::a9fe:a9fe]",
            "[2002:7f00:1::]",
            "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        ],
    )
    async def test_ipv6_spellings_of_private_ipv4_addresses_are_refused_naming_the_url(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, host: str
    ) -> None:
        r = await client.post(PATH, json=body(f"http://{host}/latest/meta-data"), headers=keys.admin.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errorCode"] == "TARGET_NOT_ALLOWED"
        assert [e["field"] for e in r.json()["errors"]] == ["url"]
        async with db.transaction() as session:
            assert (await session.execute(select(WebhookSubscription))).first() is None

    async def test_a_name_that_resolves_to_such_a_spelling_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, dns: dict[str, str]
    ) -> None:
        dns["hooks.rj.test"] = "64:ff9b::a9fe:a9fe"
        r = await client.post(PATH, json=body("http://hooks.rj.test/rj"), headers=keys.admin.headers)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["url"]
        assert "64:ff9b::a9fe:a9fe" in r.json()["detail"]

    async def test_a_name_that_resolves_to_a_public_address_is_taken(
        self, client: httpx.AsyncClient, keys: Keys, dns: dict[str, str]
    ) -> None:
        dns["hooks.rj.test"] = "2606:4700:4700::1111"
        r = await client.post(PATH, json=body("https://hooks.rj.test/rj"), headers=keys.admin.headers)
        assert r.status_code == 201, r.text

    async def test_a_url_with_credentials_is_refused(self, client: httpx.AsyncClient, keys: Keys) -> None:
        r = await client.post(
            PATH, json=body("https://user:pw@hooks.example.org/x"), headers=keys.admin.headers
        )
        assert r.status_code == 422
        assert r.json()["errorCode"] == "TARGET_NOT_ALLOWED"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"secret": "plain-text"}, "secret"),
            ({"secret": "whsec_c2hvcnQ="}, "secret"),
            ({"eventTypes": ["restorative-justice.case.deleted"]}, "eventTypes.0"),
            ({"eventTypes": []}, "eventTypes"),
            ({"url": "ftp://hooks.example.org/x"}, "url"),
        ],
    )
    async def test_invalid_subscriptions_are_refused(
        self, client: httpx.AsyncClient, keys: Keys, changes: dict[str, Any], field: str
    ) -> None:
        r = await client.post(PATH, json=body(**changes), headers=keys.admin.headers)
        assert r.status_code == 422
        assert field in [e["field"] for e in r.json()["errors"]]

    @pytest.mark.parametrize("role", ["practitioner", "manager", "referrer", "auditor"])
    async def test_only_an_admin_manages_subscriptions(
        self, client: httpx.AsyncClient, keys: Keys, role: str
    ) -> None:
        key = getattr(keys, role)
        assert (await client.post(PATH, json=body(), headers=key.headers)).status_code == 403
        assert (await client.get(PATH, headers=key.headers)).status_code == 403


class TestUnsubscribe:
    async def test_a_removed_subscription_is_gone_from_the_list(
        self, client: httpx.AsyncClient, keys: Keys, allow_private: None
    ) -> None:
        made = await subscribe(client, keys, "http://127.0.0.1:9/hook")
        r = await client.delete(f"{PATH}/{made['id']}", headers=keys.admin.headers)
        assert r.status_code == 204
        assert (await client.get(PATH, headers=keys.admin.headers)).json()["content"] == []
        assert (await client.get(f"{PATH}/{made['id']}", headers=keys.admin.headers)).status_code == 404
        assert (await client.delete(f"{PATH}/{made['id']}", headers=keys.admin.headers)).status_code == 404
