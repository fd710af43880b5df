# Default image of a project: its locked third-party packages, its local libraries and the project
# itself, installed from wheels into a venv; no sources, no Poetry, no wheels, no pip cache.
# xtask stages the context (wheels/ with requirements files carrying hashes, layers/ with the local
# packages installed) and passes the build args RUNTIME_IMAGE, PROJECT and VERSION.
# Layers are ordered by how often they change: base, third-party, local libraries, project.
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${RUNTIME_IMAGE} AS venv
RUN python3 -m venv --without-pip /opt/venv
# Inherited by the install stages below, never by the image (which starts from RUNTIME_IMAGE).
ENV PIP_INSTALL="python3 -m pip --python /opt/venv/bin/python install --no-index --no-deps --require-hashes --no-cache-dir --disable-pip-version-check --no-warn-script-location"

# Third-party packages are installed by pip under their own --root, so the image copies them as
# one layer. Local packages arrive already installed by xtask (layers/libs, layers/project, files
# with fixed timestamps): their layers are plain copies, identical for unchanged packages.
FROM venv AS third-party
COPY wheels/third-party/ /wheels/
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
COPY layers/libs/ /
COPY layers/project/ /
