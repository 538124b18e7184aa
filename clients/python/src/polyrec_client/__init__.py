"""A Python client of polyrec, the multi-tenant recommendation engine.

```python
from polyrec_client import Polyrec

with Polyrec("http://127.0.0.1:8000", tenant="acme") as polyrec:
    answer = polyrec.recommend("user1", "vlog_main_feed", count=10)
```

`Polyrec` is synchronous, `AsyncPolyrec` the same API with `async`/`await`. Requests and answers
are typed by `polyrec_client.models` (TypedDicts generated from the server's `/openapi.json`).
"""

from ._async.client import AsyncPolyrec
from ._errors import PolyrecError
from ._summary import SendSummary
from ._sync.client import Polyrec

__all__ = ["AsyncPolyrec", "Polyrec", "PolyrecError", "SendSummary"]
__version__ = "0.1.0"
