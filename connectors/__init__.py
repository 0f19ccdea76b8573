"""AR/GL and delivery connectors: each speaks one vendor's API behind connectors.base.Connector."""
