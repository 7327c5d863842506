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
    """Run the API with uvicorn."""
    from app.config import server_workers
    from app.serving import serve

    settings = get_settings()
    return serve(
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or server_workers(settings),
        log_level=settings.log_level.lower(),
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
    """Run the timed work (and event delivery) once or forever."""
    from app import logs
    from app.worker.loop import run_worker

    async def job(db: Any) -> int:
        # After the schema check, so that a database to migrate is still told in one line.
        logs.configure(get_settings().log_level)
        return await run_worker(db, once=args.once)

    return _run(job)


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document."""
    from app.openapi import write_openapi

    path = write_openapi(Path(args.output))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Load demo data and print one key per role."""
    from app.demo import load_demo

    return _run(lambda db: load_demo(db, scale=args.scale, only_if_empty=args.if_empty))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="rj-casework", description="Restorative-justice case workflow service"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="bring the database to the newest schema").set_defaults(func=cmd_migrate)

    serve = sub.add_parser("serve", help="run the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
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

    worker = sub.add_parser("worker", help="deliver events and run timed work")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.set_defaults(func=cmd_worker)

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
