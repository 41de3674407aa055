"""The token classes and the numbers every ledger row carries: THE one list that rollups,
queries, the API schemas, exports and reconcile read. The count columns of UsageRecord and
the rollups are made from TOKEN_COLUMNS and FEE_COLUMNS (usage.models.UsageCounts);
tests/pricing/test_classes.py checks the other lists against the models."""

# Priced token classes as prices name them (ModelPrice columns, Rates.per_class keys).
# 5m / 1h: Anthropic's cache writes; 30m / 12h: OpenAI's (GPT-5.6+); audio_input: audio
# prompt tokens (OpenAI, Gemini) at the model's audio rate.
RATE_CLASSES = ["input", "output", "cache_read", "cache_write_5m", "cache_write_1h",
                "cache_write_30m", "cache_write_12h", "audio_input"]

# The prompt side of a request: uncached input plus the cache classes.
PROMPT_COLUMNS = ["input_tokens", "audio_input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                  "cache_write_1h_tokens", "cache_write_30m_tokens", "cache_write_12h_tokens"]
CACHE_WRITE_COLUMNS = ["cache_write_5m_tokens", "cache_write_1h_tokens", "cache_write_30m_tokens",
                       "cache_write_12h_tokens"]
# The priced classes in display order (tables, charts, exports): prompt first, then output.
PRICED_COLUMNS = [*PROMPT_COLUMNS, "output_tokens"]
# Every token count a record stores, in storage order. Reasoning tokens are counted (they
# are part of output, never priced on their own).
TOKEN_COLUMNS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "reasoning_tokens", "cache_write_30m_tokens",
                 "cache_write_12h_tokens", "audio_input_tokens"]

# Per-request fees (the "Tools" class): a count per record, priced per 1,000 requests by
# the ModelPrice column `<class>_fee`; NULL there = the model has no such tool (a record
# using it is unpriced). Web fetch has no fee beyond its tokens: its count is kept.
FEE_CLASSES = ["web_search", "web_fetch", "file_search", "grounding"]
FEE_COLUMNS = [f"{c}_requests" for c in FEE_CLASSES]
FEE_RATES = [f"{c}_fee" for c in FEE_CLASSES]

# The counts of a row of usage.records.Batch, in this order: the priced token classes as
# billing.pricing.rates.price_counts takes them (RATE_CLASSES), reasoning, the tool calls.
BATCH_COUNTS = [*(f"{c}_tokens" for c in RATE_CLASSES), "reasoning_tokens", *FEE_COLUMNS]

# Exports show tokens in display order with reasoning, then the tool counts.
EXPORT_TOKEN_COLUMNS = [*PRICED_COLUMNS, "reasoning_tokens", *FEE_COLUMNS]

# fees_nano: the part of cost_nano that per-request fees make up (the "Tools" class).
COST_COLUMNS = ["cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "reported_cost_nano", "fees_nano"]
# What a rollup sums from records, then the unpriced counts it adds.
SUMS = ["requests", *TOKEN_COLUMNS, *FEE_COLUMNS, *COST_COLUMNS]
UNPRICED_COLUMNS = ["unpriced_requests", "unpriced_records"]
# Every number on a rollup row.
METRICS = [*SUMS, *UNPRICED_COLUMNS]

LABELS = {
    "input_tokens": "Input (uncached)",
    "audio_input_tokens": "Audio input",
    "cache_read_tokens": "Cache read",
    "cache_write_5m_tokens": "Cache write 5m",
    "cache_write_1h_tokens": "Cache write 1h",
    "cache_write_30m_tokens": "Cache write 30m",
    "cache_write_12h_tokens": "Cache write 12h",
    "output_tokens": "Output",
}
# Where cost is split by class: the token classes, then the fees.
TOOLS = "fees_nano"
COST_CLASS_LABELS = {**LABELS, TOOLS: "Tools"}


def rate_class(column: str) -> str:
    """The price class of a token column: "cache_read_tokens" -> "cache_read"."""
    return column.removesuffix("_tokens")


def fee_count(row) -> int:
    """Tool requests of a record or rollup row (dict or object)."""
    get = row.get if isinstance(row, dict) else lambda c: getattr(row, c)
    return sum(get(c) or 0 for c in FEE_COLUMNS)
