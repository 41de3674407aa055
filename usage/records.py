"""The normalized record every source produces, and the parsers of providers' raw `usage`."""

from __future__ import annotations

from collections.abc import Iterator
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from billing.pricing.classes import BATCH_COUNTS
from usage.bounds import MAX_COUNT
from usage.models import LEDGER_METERED


@dataclass(slots=True)  # slots: attribute reads are ~20% of building an ingest row
class Record:
    external_id: str
    timestamp: datetime  # aware, UTC
    model: str
    provider: str = ""
    ledger: str = LEDGER_METERED
    feature: str = ""
    end_user: str = ""
    api_key: str = ""
    workspace: str = ""  # see UsageRecord.workspace
    batch: bool = False
    service_tier: str = ""
    speed: str = ""
    region: str = ""  # see UsageRecord.region
    # None: decide from the prompt size (one request); True/False: the provider said so.
    long_context: bool | None = None
    requests: int = 1
    input_tokens: int = 0  # uncached input only
    output_tokens: int = 0  # includes reasoning
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_30m_tokens: int = 0
    cache_write_12h_tokens: int = 0
    audio_input_tokens: int = 0
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    file_search_requests: int = 0
    grounding_requests: int = 0
    reported_cost_nano: int | None = None
    # Set for rows that carry only a billed amount (cost exports): priced as reported.
    cost_only: bool = False
    # cost-only rows of the billed ledger: what token rows of the same scope price too.
    # "model": this model's token cost; "all": the scope's whole bill; "none": a fee
    # tokens don't price (web search, file search, …). See usage.billed.
    covers: str = ""
    metadata: dict = field(default_factory=dict)
    # Where the record came from, for error messages (not stored): the API's event index,
    # an importer's (file, line).
    origin: object = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Batch:
    """Records of one file that share all but their id, time and counts: how a big export
    reaches the write path without an object per row (usage.bulk stores a batch as tuples).
    A row is (shared, external_id, timestamp, day, counts, line): the record `shared` (its
    own id, time and counts unused) with that id, time (aware), UTC day of the time, counts
    in BATCH_COUNTS order (billing.pricing.classes), and the file's line it came from."""

    file: str
    rows: list[tuple[Record, str, datetime, date, tuple[int, ...], int]]

    def records(self) -> Iterator[Record]:
        """Each row as a Record of its own (the general write path; error messages)."""
        for shared, external_id, timestamp, _day, counts, line in self.rows:
            yield replace(shared, external_id=external_id, timestamp=timestamp, metadata=copy(shared.metadata),
                          origin=(self.file, line), **dict(zip(BATCH_COUNTS, counts, strict=True)))

    def shared(self) -> list[Record]:
        """The distinct shared records of the rows, in order of first use."""
        return list({id(row[0]): row[0] for row in self.rows}.values())


class UsageFormatError(ValueError):
    """A raw usage object that is not one of the known shapes."""


def _int(value, name: str) -> int:
    """A token count as the providers send it: a JSON integer (not 1.0, "1" or true)."""
    if type(value) is int and 0 <= value <= MAX_COUNT:  # the common case first
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise UsageFormatError(f"{name}: expected a whole number from 0 to 10^15, got {value!r}")
    return value


def _details(usage: dict, name: str, path: str = "usage") -> dict:
    """A `*_details` object of a usage object ({} when absent or null)."""
    value = usage.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageFormatError(f"{path}.{name}: expected an object, got {type(value).__name__}")
    return value


def _openai_cache_writes(details: dict, path: str) -> tuple[int, int]:
    """OpenAI (GPT-5.6+) cache writes inside the prompt count: (30-minute, 12-hour), stored
    as their own classes. Writes without a TTL breakdown are 30-minute."""
    total = _int(details.get("cache_write_tokens"), f"{path}.cache_write_tokens")
    ttl = _details(details, "cache_write_tokens_details", path)
    w30 = _int(ttl.get("ttl_30m_tokens"), f"{path}.cache_write_tokens_details.ttl_30m_tokens")
    w12 = _int(ttl.get("ttl_12h_tokens"), f"{path}.cache_write_tokens_details.ttl_12h_tokens")
    return w30 + max(0, total - w30 - w12), w12


def _openai_prompt(prompt: int, details: dict, path: str, total: str) -> dict[str, int]:
    """OpenAI's prompt count includes cached, cache-write and audio tokens: split it."""
    cached = _int(details.get("cached_tokens"), f"{path}.cached_tokens")
    w30, w12 = _openai_cache_writes(details, path)
    audio = _int(details.get("audio_tokens"), f"{path}.audio_tokens")
    if cached > prompt:
        raise UsageFormatError(f"{path}.cached_tokens: larger than {total}")
    if cached + w30 + w12 > prompt:
        raise UsageFormatError(f"{path}.cache_write_tokens: cached + cache-write tokens larger than {total}")
    if cached + w30 + w12 + audio > prompt:
        raise UsageFormatError(f"{path}.audio_tokens: cached + cache-write + audio tokens larger than {total}")
    return {
        "input_tokens": prompt - cached - w30 - w12 - audio,
        "audio_input_tokens": audio,
        "cache_read_tokens": cached,
        "cache_write_30m_tokens": w30,
        "cache_write_12h_tokens": w12,
    }


def _gemini_modality(usage: dict, key: str, modality: str) -> int:
    """Tokens of one modality in Gemini's [{modality, tokenCount}] breakdowns."""
    entries = usage.get(key) or []
    if not isinstance(entries, list):
        raise UsageFormatError(f"usage.{key}: expected a list of {{modality, tokenCount}}")
    return sum(_int(e.get("tokenCount"), f"usage.{key}.tokenCount") for e in entries
               if isinstance(e, dict) and e.get("modality") == modality)


# Responses API output items that are billed per call.
OUTPUT_TOOL_CALLS = {"web_search_call": "web_search_requests", "file_search_call": "file_search_requests"}


def count_tool_calls(output: list) -> dict[str, int]:
    """Per-call fees from an OpenAI Responses `output` list: web search and file search
    calls, one fee each (only the items' `type` is read)."""
    counts = dict.fromkeys(OUTPUT_TOOL_CALLS.values(), 0)
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            raise UsageFormatError(f"output.{index}: expected a Responses output item (an object with a type)")
        column = OUTPUT_TOOL_CALLS.get(item.get("type"))
        if column:
            counts[column] += 1
    return counts


# Classes most usage objects don't have: left out of the result when zero.
_OPTIONAL = {"cache_write_30m_tokens", "cache_write_12h_tokens", "audio_input_tokens",
             "web_search_requests", "web_fetch_requests"}


def normalize_usage(usage: dict, provider_hint: str = "") -> tuple[dict[str, int], str]:
    """Map a provider's raw usage object to our token classes and tool counts (see _normalize)."""
    tokens, provider = _normalize(usage, provider_hint)
    return {k: v for k, v in tokens.items() if v or k not in _OPTIONAL}, provider


def _normalize(usage: dict, provider_hint: str = "") -> tuple[dict[str, int], str]:
    """Map a provider's raw usage object to our token classes.

    Returns (tokens, provider). Anthropic's input_tokens excludes cache tokens; OpenAI's
    prompt_tokens / input_tokens include cached_tokens; Gemini's promptTokenCount
    includes cachedContentTokenCount and thoughts are billed as output.
    """
    if not isinstance(usage, dict):
        raise UsageFormatError("usage: expected an object")
    if "promptTokenCount" in usage or "candidatesTokenCount" in usage:
        prompt = _int(usage.get("promptTokenCount"), "usage.promptTokenCount")
        cached = _int(usage.get("cachedContentTokenCount"), "usage.cachedContentTokenCount")
        thoughts = _int(usage.get("thoughtsTokenCount"), "usage.thoughtsTokenCount")
        candidates = _int(usage.get("candidatesTokenCount"), "usage.candidatesTokenCount")
        tool = _int(usage.get("toolUsePromptTokenCount"), "usage.toolUsePromptTokenCount")
        if cached > prompt:
            raise UsageFormatError("usage.cachedContentTokenCount: larger than promptTokenCount")
        audio = _gemini_modality(usage, "promptTokensDetails", "AUDIO") - _gemini_modality(
            usage, "cacheTokensDetails", "AUDIO")
        if not 0 <= audio <= prompt - cached:
            raise UsageFormatError("usage.promptTokensDetails: AUDIO tokens larger than the uncached prompt")
        return {
            "input_tokens": prompt - cached - audio + tool,
            "audio_input_tokens": audio,
            "cache_read_tokens": cached,
            "output_tokens": candidates + thoughts,
            "reasoning_tokens": thoughts,
        }, "google"
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        prompt = _int(usage.get("prompt_tokens"), "usage.prompt_tokens")
        details = _details(usage, "prompt_tokens_details")
        out_details = _details(usage, "completion_tokens_details")
        if "prompt_cache_hit_tokens" in usage:
            # DeepSeek: prompt = hit + miss
            cached = _int(usage.get("prompt_cache_hit_tokens"), "usage.prompt_cache_hit_tokens")
            if cached > prompt:
                raise UsageFormatError("usage.prompt_cache_hit_tokens: larger than prompt_tokens")
            return {
                "input_tokens": prompt - cached,
                "cache_read_tokens": cached,
                "output_tokens": _int(usage.get("completion_tokens"), "usage.completion_tokens"),
                "reasoning_tokens": _int(out_details.get("reasoning_tokens"),
                                         "usage.completion_tokens_details.reasoning_tokens"),
            }, "deepseek"
        return {
            **_openai_prompt(prompt, details, "usage.prompt_tokens_details", "prompt_tokens"),
            "output_tokens": _int(usage.get("completion_tokens"), "usage.completion_tokens"),
            "reasoning_tokens": _int(
                out_details.get("reasoning_tokens"),
                "usage.completion_tokens_details.reasoning_tokens",
            ),
        }, "openai"
    anthropic_keys = {"cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"}
    responses_shape = "input_tokens_details" in usage or (
        "output_tokens_details" in usage and not anthropic_keys & usage.keys()
    )
    if "input_tokens" in usage and not anthropic_keys & usage.keys() and provider_hint:
        # The plain {input_tokens, output_tokens} shape is both APIs': the provider decides.
        responses_shape = provider_hint != "anthropic"
    if responses_shape:
        # OpenAI Responses API
        prompt = _int(usage.get("input_tokens"), "usage.input_tokens")
        details = _details(usage, "input_tokens_details")
        return {
            **_openai_prompt(prompt, details, "usage.input_tokens_details", "input_tokens"),
            "output_tokens": _int(usage.get("output_tokens"), "usage.output_tokens"),
            "reasoning_tokens": _int(
                _details(usage, "output_tokens_details").get("reasoning_tokens"),
                "usage.output_tokens_details.reasoning_tokens",
            ),
        }, "openai"
    if "input_tokens" in usage or "output_tokens" in usage:
        # Anthropic Messages API
        creation = usage.get("cache_creation")
        total_write = _int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
        if isinstance(creation, dict):
            w5 = _int(creation.get("ephemeral_5m_input_tokens"), "usage.cache_creation.ephemeral_5m_input_tokens")
            w1 = _int(creation.get("ephemeral_1h_input_tokens"), "usage.cache_creation.ephemeral_1h_input_tokens")
            # Older SDKs report only the total; when both exist, the breakdown is authoritative
            # but any remainder of the total is priced as 5-minute writes.
            w5 += max(0, total_write - w5 - w1)
        else:
            w5, w1 = total_write, 0
        out_details = _details(usage, "output_tokens_details")
        tools = usage.get("server_tool_use") or {}
        if not isinstance(tools, dict):
            raise UsageFormatError("usage.server_tool_use: expected an object")
        return {
            "web_search_requests": _int(tools.get("web_search_requests"), "usage.server_tool_use.web_search_requests"),
            "web_fetch_requests": _int(tools.get("web_fetch_requests"), "usage.server_tool_use.web_fetch_requests"),
            "input_tokens": _int(usage.get("input_tokens"), "usage.input_tokens"),
            "cache_read_tokens": _int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens"),
            "cache_write_5m_tokens": w5,
            "cache_write_1h_tokens": w1,
            "output_tokens": _int(usage.get("output_tokens"), "usage.output_tokens"),
            "reasoning_tokens": _int(out_details.get("reasoning_tokens"), "usage.output_tokens_details.reasoning_tokens"),
        }, "anthropic"
    raise UsageFormatError(
        "usage: not an Anthropic (input_tokens/output_tokens), OpenAI (prompt_tokens/"
        "completion_tokens or input_tokens_details) or Gemini (promptTokenCount) usage object"
    )


def guess_provider(model: str) -> str:
    name = model.lower().split("/")[-1]
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith(("gpt", "o1", "o3", "o4", "chatgpt", "text-embedding", "davinci")):
        return "openai"
    if name.startswith("gemini"):
        return "google"
    if name.startswith("deepseek"):
        return "deepseek"
    return ""
