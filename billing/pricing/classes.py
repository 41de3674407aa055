"""The token classes and the numbers every ledger row carries: THE one list that rollups,
queries, the API schemas, exports and reconcile read. The model fields (UsageRecord,
RollupSums) are the schema; tests/pricing/test_classes.py checks these lists against them."""

# Priced token classes as prices name them (ModelPrice columns, Rates.per_class keys).
RATE_CLASSES = ["input", "output", "cache_read", "cache_write_5m", "cache_write_1h"]

# The prompt side of a request: uncached input plus the cache classes.
PROMPT_COLUMNS = ["input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens"]
# The priced classes in display order (tables, charts, exports): prompt first, then output.
PRICED_COLUMNS = [*PROMPT_COLUMNS, "output_tokens"]
# Every token count a record stores, in storage order. Reasoning tokens are counted (they
# are part of output, never priced on their own).
TOKEN_COLUMNS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "reasoning_tokens"]
# Exports show tokens in display order with reasoning last.
EXPORT_TOKEN_COLUMNS = [*PRICED_COLUMNS, "reasoning_tokens"]

COST_COLUMNS = ["cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "reported_cost_nano"]
# What a rollup sums from records, then the unpriced counts it adds.
SUMS = ["requests", *TOKEN_COLUMNS, *COST_COLUMNS]
UNPRICED_COLUMNS = ["unpriced_requests", "unpriced_records"]
# Every number on a rollup row.
METRICS = [*SUMS, *UNPRICED_COLUMNS]

LABELS = {
    "input_tokens": "Input (uncached)",
    "cache_read_tokens": "Cache read",
    "cache_write_5m_tokens": "Cache write 5m",
    "cache_write_1h_tokens": "Cache write 1h",
    "output_tokens": "Output",
}


def rate_class(column: str) -> str:
    """The price class of a token column: "cache_read_tokens" -> "cache_read"."""
    return column.removesuffix("_tokens")
