"""The read side of usage: spend queries over the rollups, metered-vs-billed reconciliation
and the one period-end forecast. No models; nothing here writes."""
