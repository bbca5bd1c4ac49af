"""The demo site: a small Flask + Flask-Login + SQLite magazine wrapped by the bridge.

``make demo`` resets ``instance/``, seeds it (``seed.py``) and serves it (``__main__.py``);
``app.create_demo(instance_dir)`` is the whole wiring.
"""
