"""proabono-bridge, billing side: configuration, the ProAbono client, models, errors, and (in later
modules) entitlements, cache, sync, webhooks, purchasing and links.

This package never imports ``middleware`` or ``cms_adapters``.
"""

__version__ = "0.1.0"
