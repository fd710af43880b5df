# Default image of a project: its locked third-party packages, its local libraries and the project
# itself, installed into a venv; no sources, no Poetry, no pip, no wheels.
# xtask installs every wheel itself (layers/third-party, layers/libs, layers/project, files with
# fixed timestamps; an app in non-package mode is copied to /app) and passes the build args
# RUNTIME_IMAGE, PROJECT, VERSION and WORKDIR.
# Layers are ordered by how often they change: base, venv and user, third-party, local libraries,
# project. Every layer holds files with fixed timestamps, so the same inputs give the same layer
# whichever build made it.
ARG RUNTIME_IMAGE=python:3.11-slim

# The venv and the non-root user, made in a stage of their own and gathered under /out with fixed
# timestamps (and no password-change date in /etc/shadow); the image copies /out as one layer.
FROM ${RUNTIME_IMAGE} AS venv
RUN python3 -m venv --without-pip /opt/venv \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && sed -i -E 's/^(app:[^:]*:)[0-9]*:/\1:/' /etc/shadow \
 && mkdir -p /out/etc /out/opt \
 && cp -a /etc/passwd /etc/group /etc/shadow /etc/gshadow /out/etc/ \
 && cp -a /opt/venv /out/opt/ \
 && find /out -exec touch -h -d @315532800 {} +

# Third-party packages arrive installed by xtask; here they are compiled to bytecode by the
# runtime's own Python, bytecode that depends on the sources only (unchecked-hash, file names
# as in the image), given fixed timestamps and copied into the image as one layer. Local packages
# (layers/libs, layers/project) are plain copies.
FROM ${RUNTIME_IMAGE} AS third-party
COPY layers/third-party/ /layer/
RUN python3 -m compileall -q -j 1 --invalidation-mode unchecked-hash -s /layer -p / /layer \
 && find /layer -exec touch -h -d @315532800 {} +

# The image: stage `app`, which a project's own Dockerfile (built by xtask on top) starts from.
FROM ${RUNTIME_IMAGE} AS app
# `/`, or `/app` for an app in non-package mode: its files are there, and it runs from there.
ARG WORKDIR=/
COPY --from=venv /out/ /
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1
USER app
COPY --from=third-party /layer/ /
COPY layers/libs/ /
COPY layers/project/ /
WORKDIR ${WORKDIR}
