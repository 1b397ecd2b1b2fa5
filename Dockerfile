# The one image: Elastic Beanstalk builds and runs it on every instance, and
# `docker compose watch` runs it locally.

# --- builder: dependencies into a venv; compilers and pip caches stay here ---
FROM python:3.12-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
# The cache mount keeps downloaded wheels between builds without putting them in a layer.
RUN --mount=type=cache,target=/root/.cache/pip /venv/bin/pip install -r /tmp/requirements.txt
# The installers are not needed at run time; EB builds this image on every instance at every deploy.
RUN /venv/bin/python -m pip uninstall --yes --quiet pip setuptools wheel

# --- runtime: the venv and the app, run by an unprivileged user ---
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/venv/bin:$PATH \
    FLASK_APP=board \
    APP_ENV=production \
    # Only the proxy in front (EB's nginx on the host, via the docker bridge) can
    # reach the container's port, so its X-Forwarded-* headers are trusted.
    FORWARDED_ALLOW_IPS=*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app board
WORKDIR /app
COPY --from=builder /venv /venv
# Owned by the app user: `docker compose watch` syncs edits into /app/board,
# and development keeps its generated SECRET_KEY in /app/instance.
COPY --chown=board:board gunicorn.conf.py ./
COPY --chown=board:board migrations ./migrations
COPY --chown=board:board board ./board
COPY --chown=board:board static ./static
RUN install -d -o board -g board /app/instance
# By name: `docker compose watch` copies files in as the image's USER, resolved
# through /etc/passwd ("10001:10001" fails there). The uid is 10001 either way.
# hadolint ignore=DL3066
USER board

# Must equal CONTAINER_PORT in board/config.py (gunicorn binds it): EB's nginx
# forwards to the first EXPOSEd port. tests/container/test_image.py checks both.
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# Exec form: gunicorn is PID 1 and gets SIGTERM for its graceful stop.
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
