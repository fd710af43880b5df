# Default image of a project: its locked third-party packages, its local libraries and the project
# itself, installed from wheels into a venv; no sources, no Poetry, no wheels, no pip cache.
# xtask stages the context (wheels/ with requirements files carrying hashes) and passes the args.
# Layers are ordered by how often they change: base, third-party, local libraries, project.
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${RUNTIME_IMAGE} AS install
ARG PIP_INSTALL="python3 -m pip --python /opt/venv/bin/python install --no-index --no-deps --require-hashes --no-cache-dir --disable-pip-version-check --no-warn-script-location"
RUN python3 -m venv --without-pip /opt/venv && mkdir -p /layers/third-party /layers/libs /layers/project
# Each group is installed under its own --root, so the final stage copies it as its own layer.
COPY wheels/third-party/ /wheels/third-party/
RUN ${PIP_INSTALL} --root /layers/third-party --find-links /wheels/third-party -r /wheels/third-party/requirements.txt
COPY wheels/libs/ /wheels/libs/
RUN ${PIP_INSTALL} --root /layers/libs --find-links /wheels/libs -r /wheels/libs/requirements.txt
COPY wheels/project/ /wheels/project/
RUN ${PIP_INSTALL} --root /layers/project --find-links /wheels/project -r /wheels/project/requirements.txt

# The image: stage `app`, which a project's own Dockerfile (appended below by xtask) builds on.
FROM ${RUNTIME_IMAGE} AS app
RUN python3 -m venv --without-pip /opt/venv \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=install /layers/third-party/ /
COPY --from=install /layers/libs/ /
COPY --from=install /layers/project/ /
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1
USER app
