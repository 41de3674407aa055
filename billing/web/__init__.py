"""The budget pages and the budgets / prices API: parse the request, call the domain, render."""
