"""Local stand-ins for remote prison systems: small real HTTP apps served by uvicorn."""
