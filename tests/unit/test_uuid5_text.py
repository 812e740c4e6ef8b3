"""``syncer.model.uuid5_text`` prints exactly what ``str(uuid.uuid5(...))`` does: call_uids are
the markers callsync leaves in targets, so one changed character would orphan every copy."""

from __future__ import annotations

import random
import uuid

from syncer.model import CALL_UID_NAMESPACE, SourceIdentity, uuid5_text


def test_it_is_uuid5_for_many_names():
    rng = random.Random(13)
    alphabet = "abcXYZ019_:-/ é漢\\\"'\x00\U0001f600"
    names = ["", "close:close:acti_1"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(3000)
    ]
    for namespace in (CALL_UID_NAMESPACE, uuid.NAMESPACE_DNS):
        for name in names:
            assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name)), name


def test_a_call_uid_is_the_uuid5_of_its_identity():
    source = SourceIdentity(system="close", connection="close-main", external_id="acti_1")
    expected = uuid.uuid5(CALL_UID_NAMESPACE, "close:close-main:acti_1")
    assert source.call_uid == str(expected)
