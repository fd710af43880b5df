# A build image: one per Python minor, from python:<X.Y>-slim. Every build environment of
# docker/toolchain.lock for that Python becomes a venv under /opt/xtask-envs/<id>, made offline
# from the locked wheels xtask fetched (install.sh); the tools' Python also gets /opt/toolchain
# (Poetry, for `cargo xtask lock`). Debian packages sdists need (`[toolchain] system_packages`)
# are installed first, with the network; without any, the whole build runs with --network none.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
ARG SYSTEM_PACKAGES=""
RUN if [ -n "$SYSTEM_PACKAGES" ]; then \
      apt-get update -q && apt-get install -y -q --no-install-recommends $SYSTEM_PACKAGES \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY toolchain/ /tmp/toolchain/
RUN sh /tmp/toolchain/install.sh && rm -rf /tmp/toolchain
ENV PATH=/opt/toolchain/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    POETRY_VIRTUALENVS_CREATE=false \
    SOURCE_DATE_EPOCH=315532800
