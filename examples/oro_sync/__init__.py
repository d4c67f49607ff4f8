"""Customers from a source system to OroCommerce: the Prefect middleware example, on interlink."""
