"""Schemathesis hooks for the Stepwise contract fuzzer (scripts/contract-fuzz.mjs loads them
through SCHEMATHESIS_HOOKS).

GET /v1/me/keys lists the fuzzer's own key, and stateful testing follows that listing into
DELETE /v1/me/keys/{key_id}. Revoking the key the fuzzer authenticates with would turn every later
request into a 401, and the rest of the run into noise. So a request to revoke that one key is
sent for a key id that does not exist instead (the answer is then a 404, which the checks judge
as usual). Every other key, the seeded spare one and those the fuzzer creates, can be revoked.
"""

import os

import schemathesis

PROTECTED_KEY_ID = os.environ.get("STEPWISE_FUZZ_PROTECTED_KEY_ID", "")
# Well-formed (so that it reaches the lookup, not the validator) but never issued.
STAND_IN_KEY_ID = "key_000000000000000000000000"


@schemathesis.hook
def before_call(context, case, kwargs):
    parameters = case.path_parameters
    if (
        PROTECTED_KEY_ID
        and case.method.upper() == "DELETE"
        and case.operation.path == "/v1/me/keys/{key_id}"
        and parameters
        and parameters.get("key_id") == PROTECTED_KEY_ID
    ):
        parameters["key_id"] = STAND_IN_KEY_ID
