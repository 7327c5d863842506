# rj-casework: the API server. Configure with RJ_* environment variables (see docs/operations.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RJ_HOST=0.0.0.0 \
    RJ_PORT=8000 \
    RJ_MIGRATIONS_DIR=/srv/rj-casework/migrations

WORKDIR /srv/rj-casework
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /srv/rj-casework rj \
    && mkdir -p /var/lib/rj-casework \
    && chown rj /var/lib/rj-casework

USER 10001
ENV RJ_DATABASE_URL=sqlite+aiosqlite:////var/lib/rj-casework/rj.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health/liveness', timeout=2)"]
ENTRYPOINT ["rj-casework"]
CMD ["serve"]
