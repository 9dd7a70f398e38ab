# Two stages, both from the official Python image. `build` installs the locked dependencies
# and then the bot into /app/.venv with uv; the final image gets only that venv.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY uv-requirements.txt /tmp/
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
        -r /tmp/uv-requirements.txt
# The image's own Python (the only one on PATH: naming it by path would make the second
# `uv sync` rebuild the venv), never a downloaded one; bytecode compiled here, not at start-up.
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src

# The locked dependencies alone, in a layer of their own: it is rebuilt only when
# pyproject.toml or uv.lock change, never for a change to the code.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# Then the bot itself, as a regular (not editable) install, so the venv needs no source tree.
COPY README.md ./
COPY data ./data
COPY cogs ./cogs
COPY bot ./bot
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable


FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH
# FriBiDi turns on Pillow's complex text layout for the cards (its wheels bundle raqm and
# HarfBuzz but load FriBiDi from the system): without it Arabic, Hebrew and Indic names are
# drawn unshaped.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libfribidi0 \
    && rm -rf /var/lib/apt/lists/*
# The bot runs as uid 10001 / gid 10001 (user `bot`), never as root. /data is its own: a named
# volume starts out owned by it; a bind mount must be writable by uid 10001.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /app/.venv /app/.venv

USER 10001:10001
WORKDIR /data
# SQLite lives in the /data volume unless DATABASE_URL points elsewhere.
ENV DATABASE_URL=sqlite:////data/milestones.sqlite3
VOLUME ["/data"]
# /metrics and /healthz on the container's loopback, for the health check below (without a
# port, `milestone-bot health` has nothing to ask and the container would never be healthy).
# METRICS_HOST=0.0.0.0 and a published port let a Prometheus outside scrape it.
ENV METRICS_PORT=9100
# Exits 0 when every shard of this process is connected and the database answers.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["milestone-bot", "health"]
ENTRYPOINT ["milestone-bot"]
CMD ["run"]
