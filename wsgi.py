"""gunicorn entry point: ``gunicorn wsgi:app``. Connections are made per worker process."""

from app import create_app

app = create_app()
