"""Jinja2 templates of the reports (a package so they ship in the wheel)."""
