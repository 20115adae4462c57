"""Alembic migrations of the booking service (shipped inside the package)."""
