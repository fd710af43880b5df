# The status quo we compare against (benchmark only): the whole repo as build context, sources
# and Poetry copied into the image, dependencies installed by `poetry install`.
# Built by `cargo xtask bench images` with the repo root as context.
ARG RUNTIME_IMAGE=python:3.11-slim
FROM ${RUNTIME_IMAGE}
ARG PROJECT_DIR
# The benchmark machine reaches PyPI through a TLS proxy: trust its CA (a public certificate).
COPY .bench-ca.crt /etc/bench-ca.crt
ENV PIP_CERT=/etc/bench-ca.crt REQUESTS_CA_BUNDLE=/etc/bench-ca.crt POETRY_VIRTUALENVS_CREATE=false
RUN pip install --no-cache-dir poetry==2.5.1
COPY libs /repo/libs
COPY ${PROJECT_DIR} /repo/${PROJECT_DIR}
WORKDIR /repo/${PROJECT_DIR}
RUN poetry install --without dev --no-interaction
