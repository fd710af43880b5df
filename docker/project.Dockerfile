# Default image of a project: its locked third-party packages, its local libraries and the project
# itself, installed from wheels into a venv; no sources, no Poetry, no wheels, no pip cache.
# xtask stages the context (wheels/ with requirements files carrying hashes, layers/ with the local
# packages installed) and passes the build args RUNTIME_IMAGE, PROJECT and VERSION.
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
# Inherited by the install stage below, never by the image (which starts from RUNTIME_IMAGE).
ENV PIP_INSTALL="python3 -m pip --python /opt/venv/bin/python install --no-index --no-deps --require-hashes --no-cache-dir --disable-pip-version-check --no-warn-script-location --no-compile"

# Third-party packages are installed by pip under their own --root, compiled to bytecode that
# depends on the sources only (unchecked-hash, file names as in the image), given fixed
# timestamps, and copied into the image as one layer. Local packages arrive already installed by
# xtask (layers/libs, layers/project): their layers are plain copies.
FROM venv AS third-party
COPY wheels/third-party/ /wheels/
RUN mkdir -p /layer && ${PIP_INSTALL} --root /layer --find-links /wheels -r /wheels/requirements.txt \
 && python3 -m compileall -q -j 1 --invalidation-mode unchecked-hash -s /layer -p / /layer \
 && find /layer -exec touch -h -d @315532800 {} +

# The image: stage `app`, which a project's own Dockerfile (built by xtask on top) starts from.
FROM ${RUNTIME_IMAGE} AS app
COPY --from=venv /out/ /
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1
USER app
COPY --from=third-party /layer/ /
COPY layers/libs/ /
COPY layers/project/ /
