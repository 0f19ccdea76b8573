"""Operations: lag, metrics, logs, ops HTTP API."""
