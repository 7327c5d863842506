"""Demo data: two prisons, reps, a case in every state, and a key per (made-up) person."""

import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.auth.service import create_client
from app.cases import repository as repo
from app.cases import responsibility
from app.cases import service as cases
from app.cases.parties import responsible
from app.cases.schemas import (
    CasePatch,
    ConferenceProposal,
    ConsentCreate,
    PartyCreate,
    ResponsibilityCreate,
    TransitionRequest,
)
from app.common.enums import (
    AgreementMethod,
    Category,
    ConsentMethod,
    ConsentScope,
    Monitoring,
    PartyRole,
    RepStatus,
    ResponsibilityMethod,
    Role,
    TaskKind,
    Trigger,
)
from app.conferences import agreements
from app.conferences.schemas import AgreedBy, AgreementCreate, AgreementItemCreate
from app.context import SYSTEM_CONTEXT, RequestContext
from app.db import Database
from app.flows import case_assignment, safety, transitions
from app.models.cases import Case
from app.referrals import service as referrals
from app.referrals.schemas import Incident, ReferralCreate, SourceRef
from app.reps import service as reps
from app.reps.schemas import RepCreate
from app.seed.national import load_national
from app.tasks import service as tasks

KEYS_FILE = Path("demo-keys.txt")
PRISON_NAMES = {"MDI": "Moorland", "LEI": "Leeds"}

PEOPLE = [
    ("A1001AA", "Dean", "Walsh"),
    ("A1002AB", "Marcus", "Okoye"),
    ("A1003AC", "Liam", "Parry"),
    ("A1004AD", "Tyrone", "Baptiste"),
    ("A1005AE", "Connor", "Haigh"),
    ("A1006AF", "Jamal", "Reid"),
    ("A1007AG", "Stephen", "Moss"),
    ("A1008AH", "Kyle", "Bennett"),
]

# Not a trigger: a party withdraws their consent to meet face to face, as they would tell the
# practitioner, and the service acts on it.
WITHDRAW_DIRECT = "withdraw_direct_consent"
# Not triggers either: the parties agree by shuttle; every wellbeing check after it is done.
AGREE = "record_agreement"
CHECKS_DONE = "wellbeing_checks_done"

STATE_PATHS: dict[str, list[str]] = {
    "referred": [],
    "assessment": ["accept"],
    "shuttle_mediation": ["accept", "start_shuttle"],
    "letter_exchange": ["accept", "start_letters"],
    "conference": ["accept", "schedule_conference"],
    "follow_up": ["accept", "start_shuttle", "conclude"],
    "on_hold": ["accept", "start_shuttle", "pause"],
    # Declined after acceptance: the assessment visits it had are cancelled, with the reason.
    "closed": ["accept", "decline"],
    # A party withdrew consent to meet after the conference was arranged: called off at once.
    "called_off": ["accept", "schedule_conference", WITHDRAW_DIRECT],
    # One party of three withdrew; the other two go on in shuttle mediation.
    "party_withdrew": ["accept", "start_shuttle", "withdraw"],
    # Closed while its agreement's items are still monitored: the practitioner's checks stay open.
    "closed_monitored": ["accept", "start_shuttle", AGREE, "conclude", CHECKS_DONE, "close"],
}
# The cases with a third party (in a mutual fight with the other two): the one who withdraws.
THREE_PARTIES = frozenset({"party_withdrew"})


async def load_demo(db: Database, *, scale: str, only_if_empty: bool) -> int:
    """Load the demo set; with `only_if_empty`, do nothing when cases exist."""
    if scale == "national":
        return int(await load_national(db))
    async with db.transaction() as session:
        count = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
    if only_if_empty and count:
        print(
            f"demo: {count} cases already present; keys from the first start are in {KEYS_FILE}",
            file=sys.stderr,
        )
        return 0
    async with db.transaction() as session:
        keys = await _load(session)
    text = keys_text(keys)
    print(text, end="")
    KEYS_FILE.write_text(text)
    return 0


@dataclass(frozen=True)
class DemoKey:
    """A demo key and whose it is: the role it acts in, the person, the prisons it reaches."""

    role: str
    person: str
    prisons: str
    key: str


def keys_text(keys: list[DemoKey]) -> str:
    """The keys as `rj-casework demo` prints them and demo-keys.txt keeps them: a line each, the
    key last, under a note of who the people are."""
    rows = [("role", "person", "prisons", "key")] + [(k.role, k.person, k.prisons, k.key) for k in keys]
    widths = [max(len(row[n]) for row in rows) for n in range(3)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[3]]) for row in rows
    ]
    reps = [k for k in keys if k.role == "rep"]
    return (
        "Demo API keys, one per (made-up) person: send `Authorization: Bearer <key>`, or paste one\n"
        f"into Authorize on /docs. The reps {' and '.join(k.person for k in reps)} are both at\n"
        f"{reps[0].prisons}: assign both to a case to work it with two reps.\n\n" + "\n".join(lines) + "\n"
    )


async def _load(session: AsyncSession) -> list[DemoKey]:
    sys_ctx = SYSTEM_CONTEXT
    rep_records = []
    for i, (prison, number, first, last) in enumerate(
        [
            ("MDI", "G4001RR", "Andre", "Lewis"),
            ("MDI", "G4002RR", "Paul", "Kerr"),
            ("MDI", "G4003RR", "Sam", "Quinn"),
            ("LEI", "G4004RR", "Ian", "Doyle"),
        ]
    ):
        rep_records.append(
            await reps.create_rep(
                session,
                sys_ctx,
                RepCreate(
                    prisoner_number=number,
                    first_name=first,
                    last_name=last,
                    prison_id=prison,
                    location=f"{prison}-{'ABC'[i % 3]}-2",
                    status=RepStatus.ACTIVE,
                    max_active_cases=10,
                ),
            )
        )
    keys: list[DemoKey] = []

    async def key(role: str, person: str, prisons: list[str], rep: Any = None) -> Any:
        reach = ", ".join(f"{p} ({PRISON_NAMES[p]})" for p in prisons) or "all prisons"
        client, secret = await create_client(
            session,
            sys_ctx,
            name=f"{person}, demo {role}",
            role=role,
            prisons=prisons,
            all_prisons=not prisons,
            rep_id=rep.id if rep else None,
        )
        who = f"{person} ({rep.prisoner_number})" if rep else person
        keys.append(DemoKey(role=role, person=who, prisons=reach, key=secret))
        return client

    practitioner = await key("practitioner", "Helen Ashworth", ["MDI"])
    await key("practitioner", "Daniel Okafor", ["LEI"])
    # Two reps at the same prison, so that a case can be worked with two.
    await key("rep", "Andre Lewis", ["MDI"], rep=rep_records[0])
    await key("rep", "Paul Kerr", ["MDI"], rep=rep_records[1])
    await key("referrer", "Grace Whitfield", ["MDI", "LEI"])
    await key("manager", "Martin Bryce", [])
    await key("auditor", "Ruth Pennington", [])
    await key("admin", "Sanjay Mistry", [])
    from app.context import Principal

    ctx = RequestContext(
        principal=Principal(
            client_id=practitioner.id,
            name=practitioner.name,
            role=Role.PRACTITIONER,
            prisons=frozenset({"MDI"}),
        ),
        request_id="demo",
    )
    categories = list(Category)
    for n, (name, path) in enumerate(STATE_PATHS.items()):
        a, b, c = PEOPLE[n % len(PEOPLE)], PEOPLE[(n + 3) % len(PEOPLE)], PEOPLE[(n + 5) % len(PEOPLE)]
        third = [
            PartyCreate(
                prisoner_number=c[0],
                first_name=c[1],
                last_name=c[2],
                role=PartyRole.BOTH,
                location="MDI-C-3-007",
            )
        ]
        category = categories[n % len(categories)]
        referred = await referrals.refer(
            session,
            ctx,
            ReferralCreate(
                prison_id="MDI",
                source=SourceRef(system="DEMO", reference=f"DEMO-{n + 1:04d}"),
                incident=Incident(
                    occurred_at=clock.now() - timedelta(days=30 - n),
                    location_key=f"MDI-{'ABC'[n % 3]}-1",
                    category=category,
                    description=f"Demo incident {n + 1}: {category.value.replace('_', ' ')} on the landing.",
                ),
                parties=[
                    PartyCreate(
                        prisoner_number=a[0],
                        first_name=a[1],
                        last_name=a[2],
                        role=PartyRole.HARMED,
                        location="MDI-A-1-001",
                    ),
                    PartyCreate(
                        prisoner_number=b[0],
                        first_name=b[1],
                        last_name=b[2],
                        role=PartyRole.HARMER,
                        location="MDI-B-2-014",
                    ),
                    *(third if name in THREE_PARTIES else []),
                ],
                referred_by="Safer custody team",
            ),
        )
        await session.flush()
        await _walk(session, ctx, referred.case, path, practitioner.id, rep_records[n % 3].id)
    return keys


async def _walk(
    session: AsyncSession, ctx: RequestContext, case: Case, path: list[str], practitioner_id: Any, rep_id: Any
) -> None:
    bundle = await repo.load_bundle(session, case)
    if path:
        await case_assignment.set_assignment(
            session,
            ctx,
            bundle,
            practitioner_id=practitioner_id,
            rep_ids=[rep_id],
            expected_version=None,
            keep_apart_checked_by_hand=True,
        )
        await cases.patch_case(
            session,
            ctx,
            case,
            CasePatch(risk_level="low", facilitator="rep", risk_notes="Demo: no weapons involved."),
            expected_version=case.version,
        )
        for party in bundle.parties:
            for scope in ConsentScope:
                # Meeting face to face needs the person's own word to the practitioner.
                face_to_face = scope == ConsentScope.DIRECT
                await cases.record_consent(
                    session,
                    ctx,
                    bundle,
                    party.id,
                    ConsentCreate(
                        scope=scope,
                        given=True,
                        recorded_by="Helen Ashworth" if face_to_face else "Demo rep",
                        method=ConsentMethod.IN_PERSON if face_to_face else ConsentMethod.VIA_REP,
                    ),
                )
        # Past assessment, the person who caused harm has acknowledged it; a case still in
        # assessment shows the guard waiting for it.
        if len(path) > 1 and "decline" not in path:
            for party in responsible(bundle.parties):
                await responsibility.record_responsibility(
                    session,
                    ctx,
                    bundle,
                    party.id,
                    ResponsibilityCreate(
                        acknowledged=True,
                        method=ResponsibilityMethod.IN_PERSON,
                        recorded_by="Helen Ashworth",
                        note="Accepts he threw the first punch; wants to put it right.",
                    ),
                )
    for trigger in path:
        bundle = await repo.load_bundle(session, case)
        if trigger == WITHDRAW_DIRECT:
            withdrawal = ConsentCreate(
                scope=ConsentScope.DIRECT,
                given=False,
                recorded_by="Helen Ashworth",
                method=ConsentMethod.IN_PERSON,
            )
            await safety.record_consent(session, ctx, bundle, bundle.parties[0].id, withdrawal)
            await session.flush()
            continue
        if trigger == AGREE:
            await _agree(session, ctx, bundle)
            continue
        if trigger == CHECKS_DONE:
            for task in await tasks.open_tasks(session, case.id, [TaskKind.WELLBEING_CHECK]):
                await tasks.complete_task(
                    session,
                    ctx,
                    task,
                    case=case,
                    outcome="Seen; settled and doing well",
                    notes=None,
                    duration_minutes=15,
                )
            await session.flush()
            continue
        body = TransitionRequest(trigger=Trigger(trigger))
        if trigger == "close":
            body.monitoring = Monitoring.CONTINUE
        elif trigger == "decline":
            body.reason = "consent_refused"
        elif trigger == "conclude":
            body.outcome = "resolved"
        elif trigger == "pause":
            body.until, body.reason = clock.now() + timedelta(hours=48), "Tempers high after a wing search"
        elif trigger == "start_letters":
            body.party_id = bundle.parties[0].id
        elif trigger == "withdraw":
            body.party_id = next(p.id for p in bundle.parties if p.role == PartyRole.BOTH)
        elif trigger == "schedule_conference":
            body.conference = ConferenceProposal(
                scheduled_at=clock.now() + timedelta(days=7),
                location="MDI chapel meeting room",
                facilitator_id=practitioner_id,
                keep_apart_checked_by_hand=True,
            )
        await transitions.fire_transition(session, ctx, bundle, body, expected_version=None)
        await session.flush()


async def _agree(session: AsyncSession, ctx: RequestContext, bundle: repo.CaseBundle) -> None:
    """An agreement carried by shuttle: the harmer repays a debt and keeps off a landing."""
    owner = next(p for p in bundle.parties if p.role == PartyRole.HARMER)
    today = clock.now().date()
    await agreements.record_carried_agreement(
        session,
        ctx,
        bundle,
        AgreementCreate(
            items=[
                AgreementItemCreate(
                    description="Repay two phone credits by canteen day",
                    owner_party_id=owner.id,
                    due_on=today + timedelta(days=14),
                ),
                AgreementItemCreate(
                    description="Keep off B landing at association for a month",
                    owner_party_id=owner.id,
                    due_on=today + timedelta(days=28),
                ),
            ],
            agreed_by=[AgreedBy(party_id=p.id, method=AgreementMethod.IN_PERSON) for p in bundle.parties],
        ),
    )
    await session.flush()
