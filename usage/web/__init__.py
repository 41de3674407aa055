"""The usage pages, the usage API, exports and charts: parse the request, call the domain, render."""
