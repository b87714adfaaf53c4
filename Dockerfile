# Production image: slim Python, non-root, gunicorn managing uvicorn (ASGI) workers.

# The dashboard's front-end libraries (package.json: Chart.js), from the npm registry.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    FRONTDESK_CACHE_DIR=/app/.cache \
    WEB_CONCURRENCY=2

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. torch comes from
# PyTorch's CPU index: the default wheel carries several GB of CUDA libraries.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY . .
COPY --from=assets /assets/node_modules/chart.js/dist /app/node_modules/chart.js/dist
# The dashboard's and the widget's Chinese texts: .po compiled to .mo (Babel, no GNU gettext).
RUN python -m config.compilemessages
# collectstatic needs settings to load; these placeholders never reach runtime.
RUN SECRET_KEY=collectstatic-only-placeholder-that-is-long-enough-0123456789abcdef \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

# Export the local embedding model to int8 ONNX once, at build time, instead of in every
# fresh container's first request (inference/embedding_backends/local.py).
RUN python -c "from inference.embeddings import get_embedder; get_embedder(cache_dir='/app/.cache/models').embed_query('warm up')"

RUN useradd --create-home --uid 10001 frontdesk && mkdir -p /app/.cache && chown -R frontdesk /app/.cache
USER frontdesk

EXPOSE 8000
CMD ["sh", "-c", "rm -rf $PROMETHEUS_MULTIPROC_DIR && mkdir -p $PROMETHEUS_MULTIPROC_DIR && exec gunicorn config.asgi:application --bind 0.0.0.0:8000 --access-logfile - --graceful-timeout 30 --timeout 120"]
