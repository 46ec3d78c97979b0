# syntax=docker/dockerfile:1.7
# The gateway's image: a venv built in one stage, copied into a slim, non-root runtime stage that runs with a
# read-only root filesystem (it writes nothing outside /tmp). Tokenizer files and the embedding model are baked in
# at build time from BuildKit named contexts, so the container never downloads anything at run time:
#
#   docker build \
#     --build-context tiktoken=../shared/tiktoken-cache \
#     --build-context model=../shared/models/all-MiniLM-L6-v2 \
#     -t llm-cost-gateway:0.1.0 .
#
# Bump the base image deliberately (and pin its digest in your own registry): both stages must use the same one,
# because the venv refers to the base image's interpreter.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only what the package needs (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="llm-cost-gateway" \
      org.opencontainers.image.description="OpenAI-compatible LLM cost-optimizing gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
# DL3064 is set off by the word TOKEN in TIKTOKEN_CACHE_DIR, a path, not a secret.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    TIKTOKEN_CACHE_DIR=/opt/gateway/tiktoken \
    GATEWAY_MODEL_DIR=/opt/gateway/model
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin gateway
COPY --from=builder /opt/venv /opt/venv
# `tiktoken` and `model` below are named build contexts (--build-context), not stages, hence DL3022 is ignored.
# tiktoken's cache files (o200k_base, cl100k_base), named by the SHA-1 of their URL as tiktoken expects.
# hadolint ignore=DL3022
COPY --from=tiktoken / /opt/gateway/tiktoken/
# The embedding model: tokenizer, configuration and the ONNX weights (no README, no PyTorch weights).
# hadolint ignore=DL3022
COPY --from=model tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt config.json \
     config_sentence_transformers.json modules.json sentence_bert_config.json /opt/gateway/model/
# hadolint ignore=DL3022
COPY --from=model 1_Pooling /opt/gateway/model/1_Pooling/
# hadolint ignore=DL3022
COPY --from=model onnx /opt/gateway/model/onnx/
# A working default configuration (the documented reference) and the shipped policies beside it; the Helm chart
# mounts its own ConfigMaps instead.
COPY config.example.yaml /etc/gateway/config.yaml
COPY gateway/policies /etc/gateway/policies/
USER 10001:10001
EXPOSE 8080
# The image has no curl: the standard library checks liveness.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["gateway"]
CMD ["serve", "--config", "/etc/gateway/config.yaml", "--host", "0.0.0.0", "--port", "8080"]
