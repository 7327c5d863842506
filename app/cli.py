"""The `rj-casework` command line."""

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.config import Settings, get_settings


def _fail(message: str) -> int:
    print(f"rj-casework: {message}", file=sys.stderr)
    return 1


def cmd_migrate(_args: argparse.Namespace) -> int:
    """Bring the database to the newest schema."""
    from app.migrate import upgrade

    asyncio.run(upgrade(get_settings()))
    print("database is at the newest schema", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API with uvicorn, and the timed work with it unless that runs separately."""
    from app.config import server_processes, timed_work_in_server
    from app.serving import serve

    settings = get_settings()
    return serve(
        host=args.host or settings.host,
        port=args.port or settings.port,
        processes=args.workers or server_processes(settings),
        log_level=settings.log_level.lower(),
        timed_work=timed_work_in_server(settings),
        docs=settings.docs_enabled,
    )


def _run(job: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    from app.db import Database

    async def main() -> int:
        db = Database(get_settings())
        try:
            from app.migrate import ensure_migrated

            await ensure_migrated(db.engine)
            return await job(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_clients_create(args: argparse.Namespace) -> int:
    """Issue a bearer key and print it, alone, once."""
    from app.auth.service import create_client
    from app.context import SYSTEM_CONTEXT
    from app.errors import AppError

    async def job(db: Any) -> int:
        try:
            async with db.transaction() as session:
                _client, key = await create_client(
                    session,
                    SYSTEM_CONTEXT,
                    name=args.name,
                    role=args.role,
                    prisons=args.prison or [],
                    all_prisons=args.all_prisons,
                    rep_id=uuid.UUID(args.rep_id) if args.rep_id else None,
                )
        except AppError as exc:
            return _fail(exc.message)
        print(key)
        return 0

    if args.rep_id:
        try:
            uuid.UUID(args.rep_id)
        except ValueError:
            return _fail(f"--rep-id {args.rep_id!r} is not a UUID")
    return _run(job)


def _client_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


CLIENT_COLUMNS = ("ID", "NAME", "ROLE", "PRISONS", "REP ID", "CREATED", "STATUS")


def cmd_clients_list(_args: argparse.Namespace) -> int:
    """Print every client as a table: never a key, nor its hash."""
    from app.auth.service import list_clients, status_of
    from app.context import SYSTEM

    async def job(db: Any) -> int:
        async with db.snapshot() as session:
            clients, _total = await list_clients(session, SYSTEM, offset=0, limit=sys.maxsize)
            rows = []
            for c in clients:
                status, ends = status_of(c)
                rows.append(
                    (
                        str(c.id),
                        c.name,
                        c.role,
                        "all" if c.all_prisons else ",".join(c.prisons),
                        str(c.rep_id) if c.rep_id else "-",
                        f"{c.created_at:%Y-%m-%d %H:%M}",
                        f"{status.value} until {ends:%Y-%m-%d %H:%M}Z" if ends else status.value,
                    )
                )
        widths = [max(len(r[i]) for r in [CLIENT_COLUMNS, *rows]) for i in range(len(CLIENT_COLUMNS))]
        for row in [CLIENT_COLUMNS, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return 0

    return _run(job)


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    """Revoke a client: its keys stop at once, in every process of the service."""
    from app.auth.service import managed_client, revoke_client
    from app.context import SYSTEM_CONTEXT
    from app.errors import AppError

    client_id = _client_id(args.id)
    if client_id is None:
        return _fail(f"{args.id!r} is not a client id (a UUID)")

    async def job(db: Any) -> int:
        try:
            async with db.transaction() as session:
                client = await managed_client(session, SYSTEM_CONTEXT.principal, client_id)
                await revoke_client(session, SYSTEM_CONTEXT, client)
        except AppError as exc:
            return _fail(exc.message)
        print(f"client {client_id} ({client.name}) revoked: its keys no longer work", file=sys.stderr)
        return 0

    return _run(job)


def cmd_clients_rotate(args: argparse.Namespace) -> int:
    """Give a client a new key and print it, alone, once; the old key works for the overlap."""
    from app.auth.service import DEFAULT_OVERLAP_HOURS, managed_client, rotate_client
    from app.context import SYSTEM_CONTEXT
    from app.errors import AppError

    overlap_hours = DEFAULT_OVERLAP_HOURS if args.overlap_hours is None else args.overlap_hours
    client_id = _client_id(args.id)
    if client_id is None:
        return _fail(f"{args.id!r} is not a client id (a UUID)")

    async def job(db: Any) -> int:
        try:
            async with db.transaction() as session:
                client = await managed_client(session, SYSTEM_CONTEXT.principal, client_id)
                client, key = await rotate_client(
                    session, SYSTEM_CONTEXT, client, overlap_hours=overlap_hours
                )
                ends = client.previous_key_expires_at
        except AppError as exc:
            return _fail(exc.message)
        print(key)
        print(f"the previous key works until {ends:%Y-%m-%d %H:%M:%S}Z", file=sys.stderr)
        return 0

    return _run(job)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the whole trail verifies (against the newest checkpoint too, if there is one),
    1 naming the first bad record."""
    from app.audit import checkpoints
    from app.audit.service import verify
    from app.errors import AppError

    path: Path | None = Path(args.checkpoint) if args.checkpoint else None
    folder = get_settings().audit_checkpoint_dir
    if path is None and folder:
        path = checkpoints.latest(Path(folder))
    try:
        checkpoint = checkpoints.load(path) if path is not None else None
    except AppError as exc:
        return _fail(exc.message)

    async def job(db: Any) -> int:
        async with db.snapshot() as session:
            result = await verify(session, checkpoint=checkpoint)
        if not result.valid:
            return _fail(
                f"audit trail broken after {result.checked} good records: {json.dumps(result.first_invalid)}"
            )
        print(f"audit trail verifies: {result.checked} records checked ({result.redacted} redacted)")
        if checkpoint is not None:
            print(
                f"every chain holds the head published in {path} "
                f"({len(checkpoint.heads)} chains, {checkpoint.created_at:%Y-%m-%d %H:%M:%S} UTC)"
            )
        return 0

    return _run(job)


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Write a signed checkpoint of every chain's head and publish its digest as an event."""
    from app.audit import checkpoints
    from app.errors import AppError

    async def job(db: Any) -> int:
        try:
            checkpoint, path = await checkpoints.publish(db, Path(args.out) if args.out else None)
        except AppError as exc:
            return _fail(exc.message)
        print(f"wrote {path}: the heads of {len(checkpoint.heads)} chains, digest {checkpoint.digest}")
        return 0

    return _run(job)


def cmd_retention_purge(args: argparse.Namespace) -> int:
    """Anonymise closed cases past retention; a progress bar on stderr, a summary at the end."""
    from app.errors import AppError
    from app.retention.service import purge

    def bar(done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        print(f"\rpurging [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
        if done == total:
            print(file=sys.stderr)

    async def job(db: Any) -> int:
        try:
            summary = await purge(db, dry_run=args.dry_run, progress=bar)
        except AppError as exc:
            return _fail(exc.message)
        verb = "would anonymise" if summary.dry_run else "anonymised"
        print(
            f"retention: {verb} {len(summary.cases)} case(s) closed on or before "
            f"{summary.cutoff:%Y-%m-%d}; {len(summary.held)} kept under legal hold; "
            f"{verb} {summary.concerns} concern(s) raised without a case"
        )
        if not summary.dry_run:
            print(
                f"retention: {summary.rows_changed} row(s) changed, "
                f"{summary.audit_records_redacted} audit record(s) redacted"
            )
        for reference in summary.cases:
            print(f"  {reference}")
        if summary.unproven:
            left = len(summary.unproven)
            print(f"retention: left {left} as they are, their audit trail not showing them due:")
            for reason in summary.unproven:
                print(f"  {reason}")
        return 0

    return _run(job)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the timed-work runner on its own: one pass, or passes until stopped."""
    from app import logs
    from app.timed_work.runner import run_timed_work

    async def job(db: Any) -> int:
        # After the schema check, so that a database to migrate is still told in one line.
        settings = get_settings()
        logs.configure(settings.log_level)
        return await run_timed_work(db, once=args.once, poll_seconds=settings.timed_work_poll_seconds)

    return _run(job)


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document."""
    from app.openapi import write_openapi

    path = write_openapi(Path(args.output))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Load demo data and print a key per (made-up) person, saying whose it is."""
    from app.demo import load_demo

    return _run(lambda db: load_demo(db, scale=args.scale, only_if_empty=args.if_empty))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="rj-casework", description="Restorative-justice case workflow service"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="bring the database to the newest schema").set_defaults(func=cmd_migrate)

    serve = sub.add_parser(
        "serve", help="run the API, and the timed work with it unless RJ_TIMED_WORK puts that elsewhere"
    )
    serve.add_argument("--host", help="address to listen on (default: RJ_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: RJ_PORT, 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes (default: RJ_WORKERS, else one per core on PostgreSQL, one on SQLite)",
    )
    serve.set_defaults(func=cmd_serve)

    clients = sub.add_parser("clients", help="API clients").add_subparsers(
        dest="clients_command", required=True
    )
    create = clients.add_parser("create", help="issue a bearer key (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True)
    create.add_argument("--prison", action="append", help="a prison id in the caseload; repeat for more")
    create.add_argument("--all-prisons", action="store_true")
    create.add_argument("--rep-id")
    create.set_defaults(func=cmd_clients_create)
    clients.add_parser("list", help="every client and its status (never a key)").set_defaults(
        func=cmd_clients_list
    )
    revoke = clients.add_parser("revoke", help="stop a client's keys, at once")
    revoke.add_argument("id", help="the client's id, as `clients list` shows it")
    revoke.set_defaults(func=cmd_clients_revoke)
    rotate = clients.add_parser("rotate", help="issue a new key (printed once); the old one works a while")
    rotate.add_argument("id", help="the client's id, as `clients list` shows it")
    rotate.add_argument(
        "--overlap-hours",
        type=int,
        help="how many hours the old key keeps working (default 24; 0 stops it at once)",
    )
    rotate.set_defaults(func=cmd_clients_rotate)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser("verify", help="recompute the hash chains")
    verify.add_argument(
        "--checkpoint",
        help="a checkpoint file whose heads every chain must still hold "
        "(default: the newest in RJ_AUDIT_CHECKPOINT_DIR, when set)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    checkpoint = audit.add_parser(
        "checkpoint", help="write a signed checkpoint of every chain's head, and publish its digest"
    )
    checkpoint.add_argument(
        "--out", help="the file to write (default: a new file in RJ_AUDIT_CHECKPOINT_DIR)"
    )
    checkpoint.set_defaults(func=cmd_audit_checkpoint)

    retention = sub.add_parser("retention", help="data retention").add_subparsers(
        dest="retention_command", required=True
    )
    purge = retention.add_parser("purge", help="anonymise closed cases past the retention period")
    purge.add_argument("--dry-run", action="store_true", help="list what would be anonymised; change nothing")
    purge.set_defaults(func=cmd_retention_purge)

    timed_work = sub.add_parser(
        "worker",
        help="run the timed work on its own: resume cases after cooling off, announce overdue tasks "
        "and concerns, publish and deliver events, retry inbound events",
    )
    timed_work.add_argument("--once", action="store_true", help="one pass, then exit")
    timed_work.set_defaults(func=cmd_worker)

    openapi = sub.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--output", default="openapi/openapi.json")
    openapi.set_defaults(func=cmd_openapi)

    demo = sub.add_parser("demo", help="load demo data")
    demo.add_argument("--scale", choices=["small", "national"], default="small")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when cases already exist")
    demo.set_defaults(func=cmd_demo)
    return parser


def _setting_error(error: Any) -> str:
    """One refused setting, by its variable's name: `RJ_LOG_LEVEL: 'LOUD' is not a log level: ...`."""
    name = "RJ_" + "_".join(str(part) for part in error["loc"]).upper()
    return f"{name}: {str(error['msg']).removeprefix('Value error, ')}"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for operators, not a trace
        from app.migrate import NotMigratedError

        if isinstance(exc, NotMigratedError):
            return _fail(str(exc))
        if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
            return _fail("; ".join(_setting_error(error) for error in exc.errors()))
        return _fail(f"{type(exc).__name__}: {exc}")
    return code


if __name__ == "__main__":
    sys.exit(main())
