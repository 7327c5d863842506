"""Webhook delivery by the timed work: signed, retried with back-off, dead-lettered, at least once."""

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select
from sqlmodel import col

from app import clock
from app.config import Settings, get_settings
from app.db import Database
from app.events.service import emit
from app.models.webhooks import WebhookDelivery
from app.timed_work.runner import publish_events, run_once
from app.webhooks.delivery import deliver_due, sign
from tests.conftest import FIXTURES
from tests.servers import LocalServer, Redirector, Tls, WebhookReceiver
from tests.support import Api, Keys, aware
from tests.webhooks.conftest import SECRET, Answer, subscribe

SCHEMA = Draft202012Validator(
    json.loads((FIXTURES / "events/domain-event.schema.json").read_text()),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)


async def statuses(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(col(WebhookDelivery.status), func.count()).group_by(col(WebhookDelivery.status))
        )
        return {status: int(n) for status, n in rows.all()}


async def emit_many(db: Database, n: int) -> None:
    """`n` outbound events, written as the service writes them."""
    async with db.transaction() as session:
        for i in range(n):
            emit(
                session,
                event_type="restorative-justice.case.created",
                description=f"event {i}",
                prisoner_numbers=["A1234BC"],
                detail_url=f"http://rj.test/cases/{i}",
                additional={"n": i},
                prison_id="MDI",
            )


class TestDelivery:
    async def test_an_event_is_delivered_signed_and_valid(
        self, api: Api, keys: Keys, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        subscription = await subscribe(api.client, keys, server.url + "/hook")
        case = await api.refer()
        done = await run_once(db)
        assert (done["published"], done["delivered"]) == (1, 1)
        assert hook.bad_signatures == 0
        [(webhook_id, times)] = hook.ids.items()
        assert times == 1
        payload = hook.payloads[webhook_id]
        assert payload["eventId"] == webhook_id
        assert payload["eventType"] == "restorative-justice.case.created"
        assert payload["additionalInformation"]["caseId"] == case["id"]
        assert list(SCHEMA.iter_errors(payload)) == []
        listed = await api.client.get(
            f"/webhook-subscriptions/{subscription['id']}/deliveries", headers=keys.admin.headers
        )
        [delivery] = listed.json()["content"]
        assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("delivered", 1, 200)
        assert delivery["eventId"] == webhook_id

    async def test_a_subscription_receives_only_its_event_types(
        self, api: Api, keys: Keys, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        await subscribe(api.client, keys, server.url + "/hook", ["restorative-justice.case.closed"])
        await api.to_state("closed")
        await run_once(db)
        assert [p["eventType"] for p in hook.payloads.values()] == ["restorative-justice.case.closed"]

    async def test_a_tampered_signature_fails_the_receivers_check(
        self, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        body = json.dumps({"eventType": "x"})
        headers = sign("whsec_" + "AAAA" * 8, msg_id="m1", body=body)  # another secret
        async with httpx.AsyncClient() as client:
            r = await client.post(server.url, content=body, headers=headers)
        assert r.status_code == 401
        assert hook.bad_signatures == 1


class TestRetries:
    async def test_failures_back_off_then_go_dead_and_can_be_redelivered(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        receiver: tuple[WebhookReceiver, LocalServer],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        hook, server = receiver
        monkeypatch.setenv("RJ_WEBHOOK_MAX_ATTEMPTS", "3")
        get_settings.cache_clear()
        hook.status = 500
        clock.freeze(clock.now())
        subscription = await subscribe(api.client, keys, server.url + "/hook")
        deliveries = f"/webhook-subscriptions/{subscription['id']}/deliveries"
        await api.refer()

        assert (await run_once(db))["deliveryRetries"] == 1
        [pending] = (await api.client.get(deliveries, headers=keys.admin.headers)).json()["content"]
        assert (pending["status"], pending["attempts"], pending["lastStatusCode"]) == ("pending", 1, 500)
        wait = aware(pending["nextAttemptAt"]) - clock.now()
        assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)  # base 10 s, with jitter

        assert (await run_once(db))["deliveryRetries"] == 0  # not due yet: nothing is sent
        clock.advance(timedelta(seconds=10))
        assert (await run_once(db))["deliveryRetries"] == 1
        [second] = (await api.client.get(deliveries, headers=keys.admin.headers)).json()["content"]
        wait = aware(second["nextAttemptAt"]) - clock.now()
        assert timedelta(seconds=10) <= wait <= timedelta(seconds=20)  # doubled

        clock.advance(timedelta(seconds=20))
        assert (await run_once(db))["deliveriesDead"] == 1
        dead = (
            await api.client.get(deliveries, params={"status": "dead"}, headers=keys.admin.headers)
        ).json()
        assert dead["totalElements"] == 1
        [gone] = dead["content"]
        assert (gone["attempts"], gone["lastError"], gone["nextAttemptAt"]) == (
            3,
            "the receiver answered 500",
            None,
        )
        # Dead stays dead. (The clock stays within the receiver's five minutes of tolerance.)
        clock.advance(timedelta(minutes=2))
        assert (await run_once(db))["delivered"] == 0

        hook.status = 200
        r = await api.client.post(f"{deliveries}/{gone['id']}/redeliver", headers=keys.admin.headers)
        assert r.status_code == 202, r.text
        assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
        assert (await run_once(db))["delivered"] == 1
        assert await statuses(db) == {"delivered": 1}
        assert sum(hook.ids.values()) == 4  # three failures, then the redelivery

    async def test_only_dead_or_delivered_deliveries_are_sent_again(
        self, api: Api, keys: Keys, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        _hook, server = receiver
        subscription = await subscribe(api.client, keys, server.url + "/hook")
        await api.refer()
        await publish_events(db)
        deliveries = f"/webhook-subscriptions/{subscription['id']}/deliveries"
        [pending] = (await api.client.get(deliveries, headers=keys.admin.headers)).json()["content"]
        r = await api.client.post(f"{deliveries}/{pending['id']}/redeliver", headers=keys.admin.headers)
        assert r.status_code == 409

    async def test_removing_a_subscription_cancels_what_waits(
        self, api: Api, keys: Keys, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        subscription = await subscribe(api.client, keys, server.url + "/hook")
        await api.refer()
        await publish_events(db)
        await api.client.delete(f"/webhook-subscriptions/{subscription['id']}", headers=keys.admin.headers)
        assert (await run_once(db))["delivered"] == 0
        assert await statuses(db) == {"cancelled": 1}
        assert hook.received == 0

    async def test_a_target_no_longer_allowed_is_not_called(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        receiver: tuple[WebhookReceiver, LocalServer],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        hook, server = receiver
        subscription = await subscribe(api.client, keys, server.url + "/hook")
        await api.refer()
        monkeypatch.setenv("RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
        get_settings.cache_clear()
        assert (await run_once(db))["deliveriesDead"] == 1
        assert hook.received == 0
        dead = await api.client.get(
            f"/webhook-subscriptions/{subscription['id']}/deliveries",
            params={"status": "dead"},
            headers=keys.admin.headers,
        )
        assert "loopback, link-local, private or reserved" in dead.json()["content"][0]["lastError"]


class TestTargets:
    @pytest.mark.parametrize(
        "address", ["::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::"]
    )
    async def test_a_name_that_comes_to_resolve_to_a_private_address_inside_is_not_called(
        self, api: Api, keys: Keys, db: Database, dns: dict[str, str], address: str
    ) -> None:
        dns["hooks.rj.test"] = "93.184.216.34"
        subscription = await subscribe(api.client, keys, "http://hooks.rj.test/rj")
        await api.refer()
        dns["hooks.rj.test"] = address
        assert (await run_once(db))["deliveriesDead"] == 1
        dead = await api.client.get(
            f"/webhook-subscriptions/{subscription['id']}/deliveries",
            params={"status": "dead"},
            headers=keys.admin.headers,
        )
        [delivery] = dead.json()["content"]
        assert (delivery["attempts"], delivery["lastStatusCode"]) == (1, None)
        assert f"hooks.rj.test is {ip_address(address)}" in delivery["lastError"]


HOST = "hooks.rj.test"
PUBLIC = "93.184.216.34"


@pytest.fixture
def inside() -> Iterator[tuple[WebhookReceiver, LocalServer]]:
    """A receiver on 127.0.0.1 standing for a service inside the network, which webhooks must not
    reach (private targets are not allowed unless a test allows them)."""
    hook = WebhookReceiver(SECRET)
    server = LocalServer(hook).start()
    yield hook, server
    server.stop()


async def delivery_of(api: Api, keys: Keys, subscription: dict[str, Any]) -> dict[str, Any]:
    """The subscription's one delivery, as the admin reads it."""
    listed = await api.client.get(
        f"/webhook-subscriptions/{subscription['id']}/deliveries", headers=keys.admin.headers
    )
    [delivery] = listed.json()["content"]
    return dict(delivery)


class TestTheCheckedAddress:
    """A delivery looks its host up once, judges every address, and connects to one of those."""

    async def test_a_name_rebound_after_the_check_is_sent_only_to_the_checked_address(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        network: dict[tuple[str, int], tuple[str, int]],
        inside: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        private_hook, private_server = inside
        public_hook = WebhookReceiver(SECRET)
        public_server = LocalServer(public_hook).start()
        try:
            url_port = private_server.port
            network[(PUBLIC, url_port)] = ("127.0.0.1", public_server.port)
            dns[HOST] = PUBLIC
            subscription = await subscribe(api.client, keys, f"http://{HOST}:{url_port}/hook")
            await api.refer()
            dns[HOST] = [PUBLIC, "127.0.0.1"]  # public when checked, loopback when asked again
            assert (await run_once(db))["delivered"] == 1
        finally:
            public_server.stop()
        assert private_hook.received == 0
        assert public_hook.received == 1
        assert public_hook.hosts == [f"{HOST}:{url_port}"]
        assert (await delivery_of(api, keys, subscription))["status"] == "delivered"

    async def test_a_name_that_changes_its_answer_after_the_lookup_is_sent_where_it_was_looked_up(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver  # private targets allowed
        await subscribe(api.client, keys, f"http://{HOST}:{server.port}/hook")
        await api.refer()
        dns[HOST] = ["127.0.0.1", "127.0.0.2"]  # the receiver, then an address where nothing listens
        assert (await run_once(db))["delivered"] == 1
        assert hook.received == 1
        assert hook.hosts == [f"{HOST}:{server.port}"]

    @pytest.mark.parametrize("answer", ["127.0.0.1", (PUBLIC, "127.0.0.1")], ids=["private", "one of two"])
    async def test_a_name_rebound_to_a_private_address_is_refused_and_nothing_connects(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        inside: tuple[WebhookReceiver, LocalServer],
        answer: Answer,
    ) -> None:
        hook, server = inside
        dns[HOST] = PUBLIC
        subscription = await subscribe(api.client, keys, f"http://{HOST}:{server.port}/hook")
        await api.refer()
        dns[HOST] = answer
        assert (await run_once(db))["deliveriesDead"] == 1
        assert hook.received == 0
        delivery = await delivery_of(api, keys, subscription)
        assert (delivery["attempts"], delivery["lastStatusCode"]) == (1, None)
        assert f"{HOST} is 127.0.0.1" in delivery["lastError"]

    async def test_each_checked_address_is_tried_in_turn_until_one_connects(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver
        await subscribe(api.client, keys, f"http://{HOST}:{server.port}/hook")
        await api.refer()
        dns[HOST] = ("127.0.0.2", "127.0.0.1")  # nothing listens on the first
        assert (await run_once(db))["delivered"] == 1
        assert hook.hosts == [f"{HOST}:{server.port}"]

    async def test_a_name_that_does_not_resolve_now_is_tried_again_later(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver
        subscription = await subscribe(api.client, keys, f"http://{HOST}:{server.port}/hook")
        await api.refer()
        dns[HOST] = ()
        assert (await run_once(db))["delivered"] == 0
        delivery = await delivery_of(api, keys, subscription)
        assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
        assert f"{HOST} cannot be resolved now" in delivery["lastError"]
        clock.advance(timedelta(minutes=5))
        dns[HOST] = "127.0.0.1"
        assert (await run_once(db))["delivered"] == 1
        assert hook.hosts == [f"{HOST}:{server.port}"]

    async def test_a_redirect_is_not_followed(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver
        redirector = Redirector(server.url + "/hook")
        elsewhere = LocalServer(redirector).start()
        try:
            subscription = await subscribe(api.client, keys, elsewhere.url + "/hook")
            await api.refer()
            assert (await run_once(db))["delivered"] == 0
        finally:
            elsewhere.stop()
        assert (redirector.requests, hook.received) == (1, 0)
        delivery = await delivery_of(api, keys, subscription)
        assert (delivery["status"], delivery["lastStatusCode"]) == ("pending", 307)


class TestHttps:
    """Over https the connection goes to the checked address, and TLS still names the host: the
    server is sent the name (SNI) and its certificate must be for that name."""

    @pytest.fixture
    def tls_receiver(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow_private: None
    ) -> Iterator[tuple[WebhookReceiver, LocalServer]]:
        """A receiver on 127.0.0.1 over TLS, with a certificate for hooks.rj.test only, from an
        authority the service trusts (SSL_CERT_FILE)."""
        tls = Tls.issue(tmp_path, HOST)
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
        hook = WebhookReceiver(SECRET)
        server = LocalServer(hook, tls=tls).start()
        yield hook, server
        server.stop()

    async def test_the_certificate_is_checked_against_the_host_name(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        tls_receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = tls_receiver
        dns[HOST] = "127.0.0.1"
        subscription = await subscribe(api.client, keys, f"https://{HOST}:{server.port}/hook")
        await api.refer()
        assert (await run_once(db))["delivered"] == 1
        assert hook.hosts == [f"{HOST}:{server.port}"]
        assert (await delivery_of(api, keys, subscription))["lastStatusCode"] == 200

    async def test_a_certificate_for_another_name_is_refused(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        tls_receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = tls_receiver
        dns["other.rj.test"] = "127.0.0.1"
        subscription = await subscribe(api.client, keys, f"https://other.rj.test:{server.port}/hook")
        await api.refer()
        assert (await run_once(db))["delivered"] == 0
        assert hook.received == 0
        delivery = await delivery_of(api, keys, subscription)
        assert (delivery["status"], delivery["lastStatusCode"]) == ("pending", None)
        assert "CERTIFICATE_VERIFY_FAILED" in delivery["lastError"]

    async def test_a_connection_made_for_one_name_is_not_used_for_another_at_the_same_address(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        dns: dict[str, Answer | list[Answer]],
        tls_receiver: tuple[WebhookReceiver, LocalServer],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        hook, server = tls_receiver
        monkeypatch.setenv("RJ_WEBHOOK_CONCURRENCY", "1")  # one after another, on one connection
        get_settings.cache_clear()
        dns[HOST] = dns["other.rj.test"] = "127.0.0.1"
        clock.freeze(clock.now())
        await subscribe(api.client, keys, f"https://{HOST}:{server.port}/hook")
        await api.refer()
        await publish_events(db)
        clock.advance(timedelta(seconds=1))  # the first name's delivery is sent first
        other = await subscribe(api.client, keys, f"https://other.rj.test:{server.port}/hook")
        await api.refer()
        await publish_events(db)
        outcome = await deliver_due(db, "runner")
        assert (outcome.claimed, outcome.delivered) == (3, 2)
        assert hook.hosts == [f"{HOST}:{server.port}"] * 2
        assert "CERTIFICATE_VERIFY_FAILED" in (await delivery_of(api, keys, other))["lastError"]


class TestRunners:
    EVENTS = 1000

    @pytest.fixture(autouse=True)
    def batches_of_50(
        self, receiver: tuple[WebhookReceiver, LocalServer], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Batches smaller than the work, so that runners come back for more."""
        monkeypatch.setenv("RJ_WEBHOOK_BATCH_SIZE", "50")
        get_settings.cache_clear()

    async def test_two_runners_deliver_every_event_once(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        settings: Settings,
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver
        await subscribe(api.client, keys, server.url + "/hook")
        await emit_many(db, self.EVENTS)
        engines = [Database(settings), Database(settings)]
        delivered = [0, 0]

        async def runner(n: int) -> None:
            name = f"runner-{n}"
            while True:
                await publish_events(engines[n])
                outcome = await deliver_due(engines[n], name)
                delivered[n] += outcome.delivered
                if outcome.claimed == 0 and (await statuses(engines[n])).get("pending", 0) == 0:
                    return

        try:
            await asyncio.wait_for(asyncio.gather(runner(0), runner(1)), timeout=300)
        finally:
            for engine in engines:
                await engine.dispose()
        assert len(hook.ids) == self.EVENTS
        assert set(hook.ids.values()) == {1}, "an event was delivered twice"
        assert sum(delivered) == self.EVENTS
        assert all(n > 0 for n in delivered), delivered
        assert await statuses(db) == {"delivered": self.EVENTS}

    async def test_a_runner_stopped_mid_batch_loses_nothing(
        self,
        api: Api,
        keys: Keys,
        db: Database,
        settings: Settings,
        receiver: tuple[WebhookReceiver, LocalServer],
    ) -> None:
        hook, server = receiver
        clock.freeze(clock.now())
        await subscribe(api.client, keys, server.url + "/hook")
        await emit_many(db, 120)
        await publish_events(db)
        hook.hold = threading.Event()  # the receiver takes each delivery, then keeps the runner waiting

        engine = Database(settings)
        stopped = asyncio.create_task(deliver_due(engine, "runner-stopped"))
        for _ in range(500):
            if hook.received >= 5:
                break
            await asyncio.sleep(0.02)
        assert hook.received >= 5
        stopped.cancel()  # killed mid-batch: its leases stay behind
        with pytest.raises(asyncio.CancelledError):
            await stopped
        await engine.dispose()
        hook.hold.set()
        hook.hold = None

        async with db.transaction() as session:
            leased = (
                await session.execute(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(col(WebhookDelivery.claimed_by) == "runner-stopped")
                )
            ).scalar_one()
        assert leased == 50  # claimed, some sent, none recorded

        # Another runner delivers everything else, but not what is still leased ...
        while (await deliver_due(db, "runner-next")).claimed:
            pass
        assert await statuses(db) == {"delivered": 70, "pending": 50}
        # ... until the lease has run out: then it is delivered again, never lost.
        clock.advance(timedelta(seconds=get_settings().webhook_lease_seconds + 1))
        while (await deliver_due(db, "runner-next")).claimed:
            pass
        assert await statuses(db) == {"delivered": 120}
        assert len(hook.ids) == 120
        assert max(hook.ids.values()) == 2  # those in flight when it stopped came twice
