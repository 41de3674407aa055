from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from operator import attrgetter
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

import msgspec
import orjson
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from billing.pricing.classes import FEE_COLUMNS, TOKEN_COLUMNS
from billing.pricing.money import decimal_string
from costwatch.tenant import throttle
from costwatch.tenant.access import ingest_key, key_or_session, project_for
from usage import bounds
from usage.bounds import MAX_COUNT
from usage.ingest import KeyCollision, record_usage
from usage.records import (
    Record,
    UsageFormatError,
    count_tool_calls,
    guess_provider,
    normalize_usage,
)
from usage.reports import reconcile
from usage.reports.queries import (
    DIMENSIONS,
    GRANULARITIES,
    SpendQuery,
    as_api,
    directory_names,
    spend,
)
from usage.web.filters import MAX_DAYS

router = Router(tags=["usage"])

TOKEN_FIELDS = TOKEN_COLUMNS


class EventIn(BaseModel):
    """One LLM call. Send the provider's raw `usage` object, or the normalized token fields
    (where `input_tokens` is uncached input only)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=120)
    id: str | None = Field(default=None, min_length=1, max_length=255, description="Idempotency key")
    timestamp: datetime | None = None
    provider: str = Field(default="", max_length=40)
    feature: str = Field(default="", max_length=200)
    user: str = Field(default="", max_length=200)
    api_key: str = Field(default="", max_length=200)
    batch: bool = Field(default=False, strict=True)
    service_tier: str = Field(default="", max_length=40)
    speed: str = Field(default="", max_length=16)
    usage: dict | None = None
    input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    output_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    cache_read_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    cache_write_5m_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    cache_write_1h_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    reasoning_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    cache_write_30m_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    cache_write_12h_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    audio_input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    # Tool calls billed per request. Given here they win over what `usage` / `output` say
    # (Gemini grounding and OpenAI's calls are not in the usage object).
    web_search_requests: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    web_fetch_requests: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    file_search_requests: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    grounding_requests: int | None = Field(default=None, ge=0, le=MAX_COUNT, strict=True)
    output: list | None = Field(default=None, description="OpenAI Responses `output` items: web_search_call "
                                "and file_search_call items are counted as tool calls")
    region: str = Field(default="", max_length=40, description="Regional processing: Anthropic inference_geo "
                        "(also read from `usage`), OpenAI regional endpoint (eu, us, …); empty = global")
    metadata: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def usage_or_tokens(self):
        given = [f for f in TOKEN_FIELDS if getattr(self, f) is not None]
        if self.usage is None and not given:
            raise ValueError("either `usage` (the provider's usage object) or token fields are required")
        if self.usage is not None and given:
            raise ValueError(f"send either `usage` or token fields, not both (got {', '.join(given)})")
        return self


_EVENTS = TypeAdapter(list[EventIn])


# --- the fast path of a batch ----------------------------------------------------------
# A `{"events": [...]}` body is first decoded and validated in one msgspec pass (~1.7 µs an
# event, against ~7 for orjson + the TypeAdapter), into structs made from EventIn's own
# fields and constraints. It accepts a subset of what EventIn accepts (timestamps only in
# the RFC 3339 form, parsed below) and builds the same records; anything it refuses goes
# the EventIn way, which names the line and field.

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?")


def _fast_type(name: str, info):
    """The msgspec type of one EventIn field (its pydantic constraints as msgspec.Meta)."""
    annotation, optional = info.annotation, False
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation, optional = args[0], len(args) < len(get_args(annotation))
    if annotation is datetime:
        annotation = str  # parsed by _FastEvent.__post_init__
    limits = {}
    for item in info.metadata:
        for attr, key in (("min_length", "min_length"), ("max_length", "max_length"), ("ge", "ge"), ("le", "le")):
            if getattr(item, attr, None) is not None:
                limits[key] = getattr(item, attr)
    if annotation not in (str, int, bool, dict, list):
        raise TypeError(f"EventIn.{name}: no fast-path type for {annotation}")
    if limits:
        annotation = Annotated[annotation, msgspec.Meta(**limits)]
    return annotation | None if optional else annotation


_token_fields = attrgetter(*TOKEN_FIELDS)


def _fast_post_init(self):
    if self.timestamp is not None:
        if not _TIMESTAMP.fullmatch(self.timestamp):
            raise ValueError("timestamp: not RFC 3339")  # EventIn decides
        self.timestamp = datetime.fromisoformat(self.timestamp)
    if (self.usage is None) == (_token_fields(self).count(None) == len(TOKEN_FIELDS)):
        raise ValueError("usage or token fields")  # EventIn.usage_or_tokens says which


_FastEvent = msgspec.defstruct(
    "_FastEvent",
    [(name, _fast_type(name, info), msgspec.field(default_factory=info.default_factory)
      if info.default_factory else info.default if not info.is_required() else msgspec.NODEFAULT)
     for name, info in EventIn.model_fields.items()],
    kw_only=True,
    forbid_unknown_fields=True,
    namespace={"__post_init__": _fast_post_init},
)
_FastBody = msgspec.defstruct("_FastBody", [("events", list[_FastEvent])])
_FAST_BODY = msgspec.json.Decoder(_FastBody)


def _fast_records(body: bytes, now: datetime) -> list[Record] | None:
    """The records of a valid `{"events": [...]}` body, or None: then parse_events' EventIn
    path validates it (and names what is wrong)."""
    try:
        events = _FAST_BODY.decode(body).events
    except (msgspec.MsgspecError, RecursionError):  # RecursionError: JSON nested too deeply
        return None
    if len(events) > settings.INGEST_MAX_EVENTS:
        return None
    try:
        records = [_event_to_record(event, now) for event in events]
    except UsageFormatError:
        return None
    if not bounds.all_within(records, now):
        return None
    for index, record in enumerate(records):
        record.origin = index
    return records


class IngestOut(Schema):
    accepted: int
    duplicates: int
    unpriced: int
    cost_usd: str


class ErrorOut(Schema):
    detail: str
    errors: list[dict] = []


def _event_to_record(event: EventIn, now: datetime) -> Record:
    provider = event.provider or guess_provider(event.model)
    usage = event.usage
    if usage is not None:
        tokens, detected = normalize_usage(usage, provider)
        provider = provider or detected
        service_tier = event.service_tier or str(usage.get("service_tier") or "")
        speed = event.speed or str(usage.get("speed") or "")
        region = event.region or str(usage.get("inference_geo") or "")
    else:
        tokens = {f: getattr(event, f) or 0 for f in TOKEN_FIELDS}
        service_tier, speed, region = event.service_tier, event.speed, event.region
    if event.output is not None:
        tokens.update(count_tool_calls(event.output))
    fees = _fee_fields(event)
    if fees != _NO_FEES:  # most events give none: no dict of them
        tokens.update({f: n for f, n in zip(FEE_COLUMNS, fees, strict=True) if n is not None})
    ts = event.timestamp or now
    if ts.utcoffset() is None:  # naive (timezone.is_naive)
        ts = ts.replace(tzinfo=UTC)
    if (problem := bounds.time_problem(ts, now)) is not None:
        raise UsageFormatError(f"timestamp: {problem}")
    return Record(
        external_id=event.id or f"auto-{uuid.uuid4()}",
        timestamp=ts.astimezone(UTC),
        model=event.model,
        provider=provider,
        feature=event.feature,
        end_user=event.user,
        api_key=event.api_key,
        batch=event.batch or service_tier == "batch",
        service_tier=service_tier,
        speed=speed,
        region=region,
        metadata=event.metadata,
        **tokens,
    )


_fee_fields = attrgetter(*FEE_COLUMNS)
_NO_FEES = (None,) * len(FEE_COLUMNS)


# Record fields the API names differently
API_NAMES = {"end_user": "user", "external_id": "id"}


def _field(loc) -> str:
    return ".".join(str(p) for p in loc if p not in ("events",)) or "event"


def parse_events(body: bytes) -> list[Record]:
    """Validate the whole body; raise HttpError(400) listing every bad event by index."""
    now = timezone.now()
    if (records := _fast_records(body, now)) is not None:
        return records
    try:
        payload = orjson.loads(body or b"null")
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, f"body: not valid JSON ({exc})") from exc
    if isinstance(payload, dict) and "events" in payload:
        items = payload["events"]
        if not isinstance(items, list):
            raise HttpError(400, "events: expected a list of event objects")
    elif isinstance(payload, dict):
        items = [payload]
    else:
        raise HttpError(400, "body: expected an event object or {\"events\": [...]}")
    if len(items) > settings.INGEST_MAX_EVENTS:
        raise HttpError(400, f"events: {len(items)} events, at most {settings.INGEST_MAX_EVENTS} per request")
    try:
        events = _EVENTS.validate_python(items)  # one pass over the batch
    except ValidationError:
        events = None  # the loop below names every bad event
    else:
        try:
            records = [_event_to_record(event, now) for event in events]
        except UsageFormatError:
            pass
        else:
            if bounds.all_within(records, now):
                for index, record in enumerate(records):
                    record.origin = index
                return records
    records, errors = [], []
    for index, item in enumerate(items):
        try:
            event = events[index] if events else EventIn.model_validate(item)
            record = _event_to_record(event, now)
            record.origin = index
            records.append(record)
            errors.extend({"index": index, "field": API_NAMES.get(name, name), "message": message}
                          for name, message in bounds.problems(record, now))
        except ValidationError as exc:
            for err in exc.errors():
                errors.append({"index": index, "field": _field(err["loc"]), "message": err["msg"]})
        except UsageFormatError as exc:
            field, _, message = str(exc).partition(": ")
            errors.append({"index": index, "field": field, "message": message})
    if errors:
        raise IngestRejected(errors)
    return records


class IngestRejected(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors


@router.post(
    "/events",
    auth=ingest_key,
    response={200: IngestOut, 400: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Record LLM usage events",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            EventIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                            {
                                "type": "object",
                                "properties": {"events": {"type": "array", "maxItems": 10000, "items": EventIn.model_json_schema()}},
                                "required": ["events"],
                            },
                        ]
                    }
                }
            },
        }
    },
)
def post_events(request):
    """One event or `{"events": [...]}` (up to 10,000). Invalid events: 400 with errors by
    index and field, and nothing is stored. Re-sending an `id` reports a duplicate. Past the
    key's rate limit (INGEST_RATE_PER_MINUTE): 429 with Retry-After, nothing stored."""
    wait = throttle.ingest_wait(request.auth.pk)
    if wait is not None:
        response = JsonResponse({"detail": "rate limit of this ingest key reached; retry after "
                                 f"{throttle.retry_after(wait)} s"}, status=429)
        response["Retry-After"] = throttle.retry_after(wait)
        return response
    try:
        records = parse_events(request.body)
        counts = record_usage(project=request.auth.project, source="api", records=records, checked=True)
    except IngestRejected as exc:
        return Status(400, {"detail": f"{len(exc.errors)} invalid field(s); nothing was stored", "errors": exc.errors})
    except bounds.OutOfBounds as exc:  # a computed cost out of bounds
        error = {"index": exc.origin, "field": API_NAMES.get(exc.field, exc.field), "message": exc.message}
        return Status(400, {"detail": "1 invalid field(s); nothing was stored", "errors": [error]})
    except KeyCollision as exc:  # about once in 10^19 pairs of ids: the id can't be stored as it is
        return Status(409, {"detail": str(exc), "errors": [{"field": "id", "message": str(exc)}]})
    return Status(200, {
        "accepted": counts.accepted,
        "duplicates": counts.duplicates,
        "unpriced": counts.unpriced,
        "cost_usd": decimal_string(counts.cost_nano),
    })


def _check_period(start: date, end: date) -> None:
    if (problem := bounds.period_problem(start, end)) is not None:
        raise HttpError(400, ": ".join(problem))
    if end < start:
        raise HttpError(400, "end: before start")


class SpendParams(Schema):
    start: date
    end: date
    group_by: str = ""
    granularity: str = "day"
    ledger: str = ""
    project: str | None = None
    model: str | None = None
    provider: str | None = None
    feature: str | None = None
    user: str | None = None
    api_key: str | None = None
    workspace: str | None = None
    batch: str | None = None


@router.get("/spend", auth=key_or_session,
            summary="Spend grouped by day, model, provider, feature, user, api_key, workspace")
def get_spend(request, params: Query[SpendParams]):
    """Rows and total for [start, end] (UTC days, end inclusive) from the daily rollups.
    `ledger` is `metered` (app-side) or `billed` (provider console); default: metered when
    the period has metered data. Costs are decimal strings in USD. `granularity` (`day`,
    `week`, `month`) sums the rows of a `group_by` with `day` per ISO week (Monday to Sunday)
    or calendar month of UTC days; their `day` is then the period's first day."""
    project = project_for(request, params.project)
    group_by = [g.strip() for g in params.group_by.split(",") if g.strip()]
    unknown = [g for g in group_by if g not in DIMENSIONS]
    if unknown:
        raise HttpError(400, f"group_by: unknown {', '.join(unknown)}; expected any of {', '.join(DIMENSIONS)}")
    if params.ledger not in ("", "metered", "billed"):
        raise HttpError(400, "ledger: expected metered or billed")
    _check_period(params.start, params.end)
    if params.granularity not in GRANULARITIES:
        raise HttpError(400, f"granularity: expected one of {', '.join(GRANULARITIES)}")
    filters = {
        name: getattr(params, name)
        for name in ("model", "provider", "feature", "user", "api_key", "workspace", "batch")
        if getattr(params, name) is not None
    }
    rows, total, ledger = spend(
        SpendQuery(project=project, start=params.start, end=params.end, ledger=params.ledger,
                   group_by=group_by, filters=filters, granularity=params.granularity)
    )
    names = directory_names(project)
    for row in rows:  # the directory's names next to key and workspace ids
        for dim in ("api_key", "workspace"):
            if dim in row:
                row[f"{dim}_name"] = names[dim].get(row[dim] or "", row[dim])
    return {
        "project": project.slug,
        "start": params.start.isoformat(),
        "end": params.end.isoformat(),
        "ledger": ledger,
        "group_by": group_by,
        "granularity": params.granularity,
        "rows": [as_api(r) for r in rows],
        "total": as_api(total),
    }


class ReconcileParams(Schema):
    start: date
    end: date
    project: str | None = None
    provider: str | None = None
    model: str | None = None
    tolerance: str = reconcile.DEFAULT_TOLERANCE


def _side_api(side) -> dict | None:
    if side is None:
        return None
    return {"cost_usd": decimal_string(side.cost_nano), "fees_usd": decimal_string(side.fees_nano),
            "requests": side.requests, "tokens": side.tokens,
            "reported_cost_usd": decimal_string(side.reported_cost_nano) if side.reported_cost_nano else None}


@router.get("/reconcile", auth=key_or_session, summary="Metered vs billed per day × provider × model")
def get_reconcile(request, params: Query[ReconcileParams]):
    """Both ledgers side by side (what the Reconcile page shows): every (UTC day, provider,
    model) cell with its status (`match`, `differs`, `missing from billed`, `not metered`,
    and, never flagged, `not billed yet`, `no billed data`, `provider not metered`), the
    compared totals and each provider's coverage. `tolerance`: percent, one of 0.5, 1, 2, 5."""
    project = project_for(request, params.project)
    if params.tolerance not in reconcile.TOLERANCES:
        raise HttpError(400, f"tolerance: expected one of {', '.join(reconcile.TOLERANCES)} (percent)")
    _check_period(params.start, params.end)
    if (params.end - params.start).days >= MAX_DAYS:
        raise HttpError(400, f"end: at most {MAX_DAYS} days after start")
    result = reconcile.reconcile(project, start=params.start, end=params.end, provider=params.provider,
                                 model=params.model, tolerance_bp=reconcile.TOLERANCES[params.tolerance])
    return {
        "project": project.slug,
        "start": params.start.isoformat(),
        "end": params.end.isoformat(),
        "tolerance_percent": params.tolerance,
        "total": {
            "metered_cost_usd": decimal_string(result.total.metered.cost_nano),
            "billed_cost_usd": decimal_string(result.total.billed.cost_nano),
            "difference_usd": decimal_string(result.total.diff_nano),
            "cells": result.total.cells,
            "flagged": result.total.flagged,
        },
        "providers": [
            {"provider": p.provider, "metered_days": p.metered_days, "billed_days": p.billed_days,
             "billed_through": p.last_billed.isoformat() if p.last_billed else None,
             "metered_cost_usd": decimal_string(p.metered_nano), "billed_cost_usd": decimal_string(p.billed_nano)}
            for p in result.providers
        ],
        "cells": [
            {"day": c.day.isoformat(), "provider": c.provider, "model": c.model,
             "metered": _side_api(c.metered), "billed": _side_api(c.billed),
             "difference_usd": decimal_string(c.diff_nano), "status": c.status, "flagged": c.flagged}
            for c in result.cells
        ],
    }
