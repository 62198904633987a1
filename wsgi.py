"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from backend import create_app

app = create_app()
