FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY data ./data
RUN pip install . && useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot /data

USER bot
WORKDIR /data
# SQLite lives in the /data volume unless DATABASE_URL points elsewhere.
ENV DATABASE_URL=sqlite:////data/milestones.sqlite3
VOLUME ["/data"]
ENTRYPOINT ["milestone-bot"]
CMD ["run"]
