"""Calendar rules in plain Python: no database session, no Celery."""
