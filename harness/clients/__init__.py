"""Clients for the booking service's endpoints (the fake's control plane client lives in
`fake_calcom.client` and is re-exported here so drivers import from one place)."""

from fake_calcom.client import AsyncFakeControl, FakeControl
from harness.clients.service import Answer, ServiceClient, SyncServiceClient

__all__ = ["Answer", "AsyncFakeControl", "FakeControl", "ServiceClient", "SyncServiceClient"]
