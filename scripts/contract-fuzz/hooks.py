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
from hypothesis import strategies as st

PROTECTED_KEY_ID = os.environ.get("STEPWISE_FUZZ_PROTECTED_KEY_ID", "")
# Well-formed (so that it reaches the lookup, not the validator) but never issued.
STAND_IN_KEY_ID = "key_000000000000000000000000"
# The same for the seeded user: deleting the user the fuzzer authenticates as would end the run.
PROTECTED_USER_ID = os.environ.get("STEPWISE_FUZZ_PROTECTED_USER_ID", "")
STAND_IN_USER_ID = "usr_000000000000000000000000"

# Run archives (POST /v1/runs/import): a seeded run's real export, that export with a byte
# changed, an empty zip, and arbitrary bytes. Without a strategy schemathesis has no way to make
# a zip body at all.
_ARCHIVE_PATH = os.environ.get("STEPWISE_FUZZ_RUN_ARCHIVE", "")
_REAL_ARCHIVE = open(_ARCHIVE_PATH, "rb").read() if _ARCHIVE_PATH else b""
_EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18


def _flip(archive, at, value):
    if not archive:
        return archive
    at %= len(archive)
    return archive[:at] + bytes([value]) + archive[at + 1 :]


_archives = st.one_of(
    st.just(_REAL_ARCHIVE),
    st.builds(_flip, st.just(_REAL_ARCHIVE), st.integers(min_value=0), st.integers(0, 255)),
    st.just(_EMPTY_ZIP),
    st.binary(max_size=4096),
)
for _media_type in ("application/zip", "application/x-zip-compressed"):
    schemathesis.openapi.media_type(_media_type, _archives)


@schemathesis.hook
def before_call(context, case, kwargs):
    parameters = case.path_parameters
    if (
        PROTECTED_USER_ID
        and case.method.upper() == "DELETE"
        and case.operation.path == "/v1/admin/users/{user_id}"
        and parameters
        and parameters.get("user_id") == PROTECTED_USER_ID
    ):
        parameters["user_id"] = STAND_IN_USER_ID
    if (
        PROTECTED_KEY_ID
        and case.method.upper() == "DELETE"
        and case.operation.path == "/v1/me/keys/{key_id}"
        and parameters
        and parameters.get("key_id") == PROTECTED_KEY_ID
    ):
        parameters["key_id"] = STAND_IN_KEY_ID
