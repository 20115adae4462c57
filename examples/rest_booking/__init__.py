"""A plain REST booking service on Cal.com, in a naive and a careful mode (README.md).

    app = await create_app(Settings(calcom_url="http://127.0.0.1:8788",
                                    calcom_api_key="cal_live_calharness_anna", mode="careful"))
"""

from examples.rest_booking.app import create_app
from examples.rest_booking.settings import Settings

__all__ = ["Settings", "create_app"]
