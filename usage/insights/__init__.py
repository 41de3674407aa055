"""Insights: why spend changed, what it would cost otherwise, what to do about it.

Read side only (no models): pure functions over rollup rows and the price book, money in
integer nano-USD."""
