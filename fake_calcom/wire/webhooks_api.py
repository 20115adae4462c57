"""`/v2/webhooks`: the API key owner's webhook subscriptions."""

from __future__ import annotations

from aiohttp import web

from fake_calcom.backend.errors import BadRequest, NotFound
from fake_calcom.backend.models import WebhookSubscription
from fake_calcom.wire.common import Answer, authenticate, ctx_of, query_dict, state_of, success
from fake_calcom.wire.serializers import webhook
from fake_calcom.wire.validation import Problems, query_int, unknown_query, webhook_body


def _owned(request: web.Request) -> tuple[int, WebhookSubscription]:
    owner = authenticate(request, required=True)
    assert owner is not None
    raw_id = request.match_info["webhook_id"]
    try:
        webhook_id = int(raw_id)
    except ValueError:
        raise BadRequest("Validation failed (numeric string is expected)") from None
    subscription = state_of(request).backend.subscriptions.get(webhook_id)
    if subscription is None or subscription.owner_id != owner.id:
        raise NotFound(f"Webhook with id {webhook_id} not found")
    return owner.id, subscription


async def create_webhook(request: web.Request) -> Answer:
    owner = authenticate(request, required=True)
    assert owner is not None
    body = webhook_body(ctx_of(request).json())
    subscription = state_of(request).backend.add_subscription(
        subscriber_url=body["subscriberUrl"],
        triggers=body["triggers"],
        secret=body.get("secret"),
        active=body["active"],
        owner_id=owner.id,
        payload_template=body.get("payloadTemplate"),
    )
    return success(webhook(subscription), 201)


async def list_webhooks(request: web.Request) -> Answer:
    owner = authenticate(request, required=True)
    assert owner is not None
    query = query_dict(request)
    problems = Problems()
    unknown_query(query, frozenset({"take", "skip"}), problems)
    take = query_int(query, "take", problems, minimum=1, maximum=250)
    skip = query_int(query, "skip", problems, minimum=0) or 0
    problems.raise_if_any()
    mine = [s for s in state_of(request).backend.subscriptions.values() if s.owner_id == owner.id]
    mine.sort(key=lambda s: s.id)
    page = mine[skip : skip + (take or 250)]
    return success([webhook(s) for s in page])


async def get_webhook(request: web.Request) -> Answer:
    _, subscription = _owned(request)
    return success(webhook(subscription))


async def update_webhook(request: web.Request) -> Answer:
    _, subscription = _owned(request)
    body = webhook_body(ctx_of(request).json(), partial=True)
    if "subscriberUrl" in body:
        subscription.subscriber_url = body["subscriberUrl"]
    if "triggers" in body:
        subscription.triggers = tuple(body["triggers"])
    if "active" in body:
        subscription.active = body["active"]
    if "secret" in body:
        subscription.secret = body["secret"]
    if "payloadTemplate" in body:
        subscription.payload_template = body["payloadTemplate"]
    return success(webhook(subscription))


async def delete_webhook(request: web.Request) -> Answer:
    _, subscription = _owned(request)
    del state_of(request).backend.subscriptions[subscription.id]
    return success(webhook(subscription))
