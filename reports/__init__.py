"""Report model, builders and templates."""
