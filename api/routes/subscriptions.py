"""Webhook subscriptions (Standard Webhooks v1): made, listed and deleted by platform and staff keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.deps import StaffOrPlatform, SubscribersDep
from api.problems import ProblemException, problem_responses
from subscribers.events import EventFilter, unknown_types
from subscribers.registry import Delivery, Subscription
from subscribers.ssrf import UnsafeUrl

router = APIRouter(tags=["subscriptions"])


class SubscriptionFilter(BaseModel):
    sectors: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=50, description="absent or empty: every sector")
    types: list[str] | None = Field(default=None, max_length=4, description="absent or empty: every type")


class SubscriptionCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s); must resolve to public addresses only")
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    filter: SubscriptionFilter
    status: str
    disabled_reason: str | None
    created_at: str


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="whsec_ + base64 of 32 random bytes; shown only now")


class SubscriptionsPublic(BaseModel):
    items: list[SubscriptionPublic]


class DeliveryPublic(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str


class DeliveriesPublic(BaseModel):
    items: list[DeliveryPublic]


def subscription_public(subscription: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=subscription.id, url=subscription.url, status=subscription.status,
        filter=SubscriptionFilter(sectors=list(subscription.filter.sectors), types=list(subscription.filter.types)),
        disabled_reason=subscription.disabled_reason, created_at=subscription.created_at)


def delivery_public(delivery: Delivery) -> DeliveryPublic:
    next_at = datetime.fromtimestamp(delivery.next_at, UTC).isoformat().replace("+00:00", "Z")
    return DeliveryPublic(
        id=delivery.id, event_id=delivery.event_id, event_type=delivery.event_type, status=delivery.status,
        attempts=delivery.attempts, next_attempt_at=next_at if delivery.status == "pending" else None,
        last_status=delivery.last_status, last_error=delivery.last_error, created_at=delivery.created_at,
        updated_at=delivery.updated_at)


async def owner(caller: StaffOrPlatform) -> str:
    return caller.owner


OwnerDep = Annotated[str, Depends(owner)]


async def visible_subscription(subscription_id: str, caller: StaffOrPlatform, owner: OwnerDep,
                               subscribers: SubscribersDep) -> Subscription:
    """A platform key reaches only its own subscriptions; staff reach all."""
    subscription = await asyncio.to_thread(subscribers.registry.get, subscription_id)
    if subscription is None:
        raise ProblemException(404, f"no subscription {subscription_id!r}")
    if caller.role != "staff" and subscription.owner != owner:
        raise ProblemException(403, "this subscription belongs to another key")
    return subscription


VisibleSubscription = Annotated[Subscription, Depends(visible_subscription)]


@router.post("/v1/subscriptions", status_code=201, response_model=SubscriptionCreated,
             responses=problem_responses(401, 403, 422, 503))
async def create_subscription(body: SubscriptionCreate, owner: OwnerDep,
                              subscribers: SubscribersDep) -> SubscriptionCreated:
    types = body.filter.types or []
    if unknown_types(types):
        raise ProblemException(422, "the request is not valid", errors=[
            (f"unknown event type {name!r}", f"/filter/types/{i}") for i, name in enumerate(types)
            if unknown_types([name])])
    try:
        await subscribers.check_url(body.url)
    except UnsafeUrl as refused:
        raise ProblemException(422, str(refused), errors=[(str(refused), "/url")]) from None
    subscription = await asyncio.to_thread(
        subscribers.registry.create, owner=owner, url=body.url,
        filter=EventFilter.of(sectors=body.filter.sectors or [], types=types))
    return SubscriptionCreated(**subscription_public(subscription).model_dump(), secret=subscription.secret)


@router.get("/v1/subscriptions", response_model=SubscriptionsPublic, responses=problem_responses(401, 403, 503))
async def list_subscriptions(caller: StaffOrPlatform, owner: OwnerDep,
                             subscribers: SubscribersDep) -> SubscriptionsPublic:
    found = await asyncio.to_thread(subscribers.registry.subscriptions,
                                    owner=None if caller.role == "staff" else owner)
    return SubscriptionsPublic(items=[subscription_public(s) for s in found])


@router.get("/v1/subscriptions/{subscription_id}", response_model=SubscriptionPublic,
            responses=problem_responses(401, 403, 404, 503))
async def get_subscription(subscription: VisibleSubscription) -> SubscriptionPublic:
    return subscription_public(subscription)


@router.delete("/v1/subscriptions/{subscription_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 503))
async def delete_subscription(subscription: VisibleSubscription, subscribers: SubscribersDep) -> Response:
    await asyncio.to_thread(subscribers.registry.delete, subscription.id)
    return Response(status_code=204)


@router.get("/v1/subscriptions/{subscription_id}/deliveries", response_model=DeliveriesPublic,
            responses=problem_responses(401, 403, 404, 503))
async def list_deliveries(subscription: VisibleSubscription, subscribers: SubscribersDep) -> DeliveriesPublic:
    """The newest 100 deliveries first."""
    found = await asyncio.to_thread(subscribers.registry.deliveries, subscription.id)
    return DeliveriesPublic(items=[delivery_public(d) for d in found])


@router.post("/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry", status_code=202,
             response_model=DeliveryPublic, responses=problem_responses(401, 403, 404, 409, 503))
async def retry_delivery(delivery_id: str, subscription: VisibleSubscription,
                         subscribers: SubscribersDep) -> DeliveryPublic:
    """Sends the delivery again soon, with the same webhook-id, whatever became of it before."""
    if subscription.status != "active":
        raise ProblemException(409, f"the subscription is disabled: {subscription.disabled_reason}")
    delivery = await asyncio.to_thread(subscribers.registry.redeliver, subscription.id, delivery_id)
    if delivery is None:
        raise ProblemException(404, f"no delivery {delivery_id!r} for this subscription")
    subscribers.deliverer.wake()
    return delivery_public(delivery)
