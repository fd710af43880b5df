# The global build image: one pinned Python (the base) and one pinned Poetry for every package.
# Built by xtask with --network none from the toolchain wheels that its fetch step downloaded;
# tagged with the hash of its inputs, so it is built once and shared by every project.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
COPY toolchain/ /opt/toolchain-wheels/
RUN python3 -m venv /opt/toolchain \
 && /opt/toolchain/bin/pip install --no-index --no-cache-dir --find-links /opt/toolchain-wheels \
        -r /opt/toolchain-wheels/requirements.txt
ENV PATH=/opt/toolchain/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    POETRY_VIRTUALENVS_CREATE=false \
    SOURCE_DATE_EPOCH=315532800
