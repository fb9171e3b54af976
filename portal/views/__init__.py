"""Blueprints, one per audience.

Views are thin: load, authorize, call a service, commit, redirect.
"""
