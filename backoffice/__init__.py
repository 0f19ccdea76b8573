"""backoffice: the pure billing domain (no Kafka, no I/O, no wall clock).

Workers, documents and connectors call it; nothing else decides a billing question.
"""
