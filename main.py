"""The ASGI entry point: ``uvicorn main:app``, ``fastapi dev main.py`` or Gunicorn."""

from fastboard.app import create_app

app = create_app()
