"""The read model: billing topics materialized into SQL tables by `backoffice projector`."""
