"""The reference booking service: the system under test (see docs/contracts.md §2).

from booking_service import create_app, Settings, Defenses
app = create_app(Settings(database_url="sqlite:///booking.db", calcom_base_url="http://127.0.0.1:8787"))
"""

from booking_service.app import context_of, create_app
from booking_service.defenses import DEFENSE_NAMES, Defenses
from booking_service.settings import Settings

__all__ = ["DEFENSE_NAMES", "Defenses", "Settings", "context_of", "create_app"]
