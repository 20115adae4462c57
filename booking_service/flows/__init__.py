"""The service's use cases: availability, booking, cancel, reschedule, webhooks, reconciliation."""
