"""Compatibility answers through the running registry: one message per incompatibility."""

from __future__ import annotations

import json

from tests.registry.conftest import Api, body, record
from tests.waiting import unique

FIELDS = 1000


async def test_verbose_check_answers_one_message_per_missing_default(api: Api) -> None:
    """A new schema adding many fields without defaults gets one message per field."""
    subject = unique("size-value")
    name = "S" + subject.replace("-", "_")
    assert (await api.call("POST", f"/subjects/{subject}/versions", body(record(name))))[0] == 200
    wide = record(name, *((f"f{i}", "int") for i in range(FIELDS)))
    path = f"/compatibility/subjects/{subject}/versions/latest?verbose=true"
    status, answer = await api.call("POST", path, body(wide))
    assert (status, answer["is_compatible"], len(answer["messages"])) == (200, False, FIELDS)
    assert answer["messages"][7] == (
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'f7' at path "
        "'/fields/7' in the new schema has no default value and is missing in the old schema', "
        "additionalInfo:'f7'}"
    )
    assert len(json.dumps(answer)) < FIELDS * 250  # linear: about 200 bytes a field
