# One image for every backoffice process: worker, projector, topic admin, simulator, operator CLI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY backoffice ./backoffice
COPY schemas ./schemas
COPY workers ./workers
COPY connectors ./connectors
COPY documents ./documents
COPY templates ./templates
COPY ops ./ops
COPY cli ./cli
COPY infra ./infra
COPY simulator ./simulator
COPY readmodel ./readmodel
COPY api ./api
COPY console ./console
# /app stays root-owned: everything the processes write lives under /var/lib/backoffice
# (a named volume copies this ownership when first mounted), never at a path relative to /app.
RUN pip install . && useradd --create-home backoffice \
    && mkdir -p /var/lib/backoffice/documents /var/lib/backoffice/sent-log /var/lib/backoffice/tokens \
    && chown -R backoffice /var/lib/backoffice

USER backoffice
ENV BACKOFFICE_DATA_DIR=/var/lib/backoffice BACKOFFICE_WEB_HOST=0.0.0.0 BACKOFFICE_METRICS_HOST=0.0.0.0 \
    BACKOFFICE_DOCUMENT_STORE=/var/lib/backoffice/documents BACKOFFICE_SENT_LOG=/var/lib/backoffice/sent-log \
    BACKOFFICE_TOKEN_DIR=/var/lib/backoffice/tokens
ENTRYPOINT ["backoffice"]
CMD ["--help"]
