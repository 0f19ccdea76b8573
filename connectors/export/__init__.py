"""Offline AR/GL export: a batch's invoices and credit memos in the vendors' import formats."""
