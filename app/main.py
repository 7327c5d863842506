"""The ASGI application for uvicorn: `uvicorn app.main:app`."""

import gc

from app.api.app import create_app

app = create_app()

# What start-up built (modules, routes, schemas) lives as long as the serving process: moved out
# of the collector's sight, so that a full collection scans only what requests leave behind, and
# the youngest generation collected less often. Process-wide, so here, where the served
# application is made, and not in every application a test builds.
gc.collect()
gc.freeze()
gc.set_threshold(20_000, 50, 100)
