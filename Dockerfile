# closedloop: the HTTP service (gunicorn, as `closedloop serve` runs it) or the delivery worker.
#
#   docker build -t closedloop .
#   docker run -v ./closedloop.yaml:/etc/closedloop/config.yaml:ro -p 8080:8080 closedloop
#
# The default command serves HTTP *and* runs the scheduler (syncs, deliveries) in a child
# process: right for one container. With compose.yaml the web service runs
# `serve --no-scheduler` and one `worker` container runs the scheduler, so web can scale.
# This image is linted (hadolint) in CI but was never built there: see README, "Deployment".

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY platforms ./platforms
COPY mappings ./mappings
# Every dependency as a wheel, so the final stage needs no compiler and no network.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLOSEDLOOP_CONFIG=/etc/closedloop/config.yaml
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/closedloop-*.whl \
    && groupadd --system --gid 10001 closedloop \
    && useradd --system --uid 10001 --gid closedloop --home-dir /var/lib/closedloop \
       --shell /usr/sbin/nologin closedloop \
    && install -d -o closedloop -g closedloop -m 0750 /var/lib/closedloop
# SQLite installs keep closedloop.db here (mount a volume); PostgreSQL ones keep nothing.
WORKDIR /var/lib/closedloop
USER 10001:10001
EXPOSE 8080
# /healthz says the process serves; /readyz (database, scheduler, source) is for the proxy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["closedloop"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
