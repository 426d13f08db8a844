"""What the lab's two dynamic providers share (kibana_import.py, elasticsearch_setup.py).

Pulumi pickles a dynamic provider (dill) and runs it in a host process that cannot import
stack/. dill pickles by value what claims to live in `__main__`, so `by_value()` marks a
provider's functions and classes (and their methods) that way, this module's own members
included. Everything marked may use the standard library and pulumi only.
"""

from __future__ import annotations

from typing import Any

import pulumi.dynamic


def by_value(*members: Any) -> None:
    """Mark functions and classes (with their methods) to be pickled by value."""
    for member in members:
        member.__module__ = "__main__"
        for method in vars(member).values() if isinstance(member, type) else ():
            if callable(method):
                method.__module__ = "__main__"


class ApplyingProvider(pulumi.dynamic.ResourceProvider):
    """A provider whose create and update both apply the inputs to a running product.

    What it applies lives in Elasticsearch, on the lab's data volume, and goes with it (the
    product is usually gone when a delete runs): delete has nothing to undo.
    """

    resource_id = ""

    def apply(self, props: dict[str, Any]) -> dict[str, Any]:
        """Apply `props` and return the resource's outputs."""
        raise NotImplementedError

    def create(self, props: dict[str, Any]):
        return pulumi.dynamic.CreateResult(id_=self.resource_id, outs=self.apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]):
        return pulumi.dynamic.UpdateResult(outs=self.apply(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


by_value(by_value, ApplyingProvider)
