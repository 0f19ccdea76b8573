# One image for every backoffice process: worker, topic admin, simulator, operator CLI.
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
RUN pip install . && useradd --create-home backoffice \
    && mkdir -p /var/lib/backoffice && chown backoffice /var/lib/backoffice

USER backoffice
ENV BACKOFFICE_DATA_DIR=/var/lib/backoffice BACKOFFICE_WEB_HOST=0.0.0.0 BACKOFFICE_METRICS_HOST=0.0.0.0
ENTRYPOINT ["backoffice"]
CMD ["--help"]
