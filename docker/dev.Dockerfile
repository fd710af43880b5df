# Dev image of a project (`cargo xtask dev`): the runtime base, the locked third-party packages of
# the main and dev groups (installed by xtask into layers/third-party), and the local packages'
# metadata and console scripts (layers/dev). Their code is not in the image: .pth files point at
# /repo/<package>, where xtask mounts the host's sources, so an edit is live at the next import
# and never rebuilds this image.
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${RUNTIME_IMAGE}
RUN python3 -m venv --without-pip /opt/venv
# Runs as the host user (files written into the mounts stay theirs), who has no home here.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY layers/third-party/ /
COPY layers/dev/ /
