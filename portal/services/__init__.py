"""Domain services: plain functions with explicit inputs (``now`` included).

They add and flush; the caller (a view, a CLI command, a scheduled job) commits once.
"""
