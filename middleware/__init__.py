"""proabono-bridge, web side: the WSGI gate, its endpoints, framework glue and the command line.

This package composes ``bridge`` (billing) and ``cms_adapters`` (who the user is).
"""
