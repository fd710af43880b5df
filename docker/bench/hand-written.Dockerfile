# A careful hand-written multi-stage build (benchmark only): wheels built by pip from the
# sources in a build stage, only the venv copied into the image.
# Built by `cargo xtask bench images` with the repo root as context.
ARG RUNTIME_IMAGE=python:3.11-slim
FROM ${RUNTIME_IMAGE} AS build
ARG PROJECT_DIR
COPY .bench-ca.crt /etc/bench-ca.crt
ENV PIP_CERT=/etc/bench-ca.crt
RUN python3 -m venv /venv
COPY libs /src/libs
COPY ${PROJECT_DIR} /src/${PROJECT_DIR}
RUN /venv/bin/pip install --no-cache-dir /src/${PROJECT_DIR}

FROM ${RUNTIME_IMAGE}
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH
RUN useradd --system --uid 10001 --no-create-home app
USER app
