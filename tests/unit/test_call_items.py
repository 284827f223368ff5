"""A batch's item calls carry everything of their batch's call but what they change."""

from __future__ import annotations

import dataclasses

from statehouse.server.api import Call


def test_an_item_call_is_the_batch_call_with_its_method_payloads_and_lane() -> None:
    # Every field a distinct object: a field added to Call and not carried fails here.
    batch = Call(**{f.name: object() for f in dataclasses.fields(Call)})
    method, payloads, heavy = object(), object(), object()
    item = batch.item(method, payloads, heavy)  # type: ignore[arg-type]
    assert item == dataclasses.replace(batch, method=method, payloads=payloads, heavy=heavy)
