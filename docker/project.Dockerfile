# Default image of a project: its locked third-party packages, its local libraries and the project
# itself, installed from wheels into a venv; no sources, no Poetry, no wheels, no pip cache.
# xtask stages the context (wheels/ with requirements files carrying hashes) and passes the args.
# Layers are ordered by how often they change: base, third-party, local libraries, project.
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${RUNTIME_IMAGE} AS venv
RUN python3 -m venv --without-pip /opt/venv
# Inherited by the install stages below, never by the image (which starts from RUNTIME_IMAGE).
ENV PIP_INSTALL="python3 -m pip --python /opt/venv/bin/python install --no-index --no-deps --require-hashes --no-cache-dir --disable-pip-version-check --no-warn-script-location"

# Each group is installed under its own --root in a stage of its own: an edit to one group
# never re-runs another's install, so their layers below stay byte-identical.
FROM venv AS third-party
COPY wheels/third-party/ /wheels/
RUN mkdir -p /layer && ${PIP_INSTALL} --root /layer --find-links /wheels -r /wheels/requirements.txt

FROM venv AS libs
COPY wheels/libs/ /wheels/
RUN mkdir -p /layer && ${PIP_INSTALL} --root /layer --find-links /wheels -r /wheels/requirements.txt

FROM venv AS project
COPY wheels/project/ /wheels/
RUN mkdir -p /layer && ${PIP_INSTALL} --root /layer --find-links /wheels -r /wheels/requirements.txt

# The image: stage `app`, which a project's own Dockerfile (appended below by xtask) builds on.
# Metadata comes before the copies, so a rebuild after an edit re-runs only the copies.
FROM ${RUNTIME_IMAGE} AS app
RUN python3 -m venv --without-pip /opt/venv \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1
USER app
COPY --from=third-party /layer/ /
COPY --from=libs /layer/ /
COPY --from=project /layer/ /
