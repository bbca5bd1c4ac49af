"""proabono-bridge, user side: adapters that recognise a CMS's logged-in user and read its users.

This package never imports ``middleware``.
"""
