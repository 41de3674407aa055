"""What the rule tests share: post events through the real ingest API (rollups run in the
request, as on the embedded default) and return its answer."""

MICRO = 1000  # nano-USD per µ$
TS = "2026-11-02T12:00:00Z"


def post(api_client, events, capture):
    with capture(execute=True):
        response = api_client.post("/api/v1/events", {"events": events}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()
