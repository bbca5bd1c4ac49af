"""The demo for any WSGI server, on the default ``instance/`` (seed it first)::

python -m examples.demo_site.seed
waitress-serve --listen 127.0.0.1:8000 examples.demo_site.wsgi:app
"""

from examples.demo_site.app import create_demo

app = create_demo()
