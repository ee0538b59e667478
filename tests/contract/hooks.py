"""schemathesis hooks, loaded through SCHEMATHESIS_HOOKS by the contract test.

- ``application/sdp`` bodies (WHEP offers) go out as the text they are: schemathesis
  has no SDP serializer, and an offer is text.
- Hypothesis reads lambdas' sources with ``ast.parse`` (to describe and rewrite filters);
  from two worker threads at once CPython 3.11 can fail that with ``SystemError: AST
  constructor recursion depth mismatch`` (its AST converter keeps one recursion counter
  per interpreter; CPython gh-106905), which ended runs as a schemathesis "runtime
  error". Parsing is made one thread at a time.
"""

import ast
import threading
from typing import Any

import schemathesis

schemathesis.serializer.alias("application/sdp", "text/plain")

_parse = ast.parse
_one_at_a_time = threading.Lock()


def _serialized_parse(*args: Any, **kwargs: Any) -> Any:
    with _one_at_a_time:
        return _parse(*args, **kwargs)


ast.parse = _serialized_parse
