"""Schemathesis hooks for polyrec's contract run (scripts/schemathesis.sh).

The bulk item import takes NDJSON (`application/x-ndjson`), which schemathesis has no serializer
for: a generated string body is sent as it is, anything else as one JSON line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()
