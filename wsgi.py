"""WSGI entry point: `gunicorn wsgi:app`."""
from chatcenter import create_app

app = create_app()
