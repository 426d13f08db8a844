"""Generated secrets that a product checks against a policy before it takes them.

The generator (lab/automation.generated_secret) draws again until a value passes; a value set by
hand that fails is refused before the program declares anything, with the product's reasons.
Pure: no Pulumi.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from stack.configs import logstash_api

# lab:<key> -> its product's reasons to refuse a value ([] passes).
POLICIES: Mapping[str, Callable[[str], list[str]]] = MappingProxyType(
    {logstash_api.SECRET: logstash_api.policy_failures}
)


def refused(key: str, value: str) -> list[str]:
    """Why `lab:<key>`'s product would refuse `value`; [] for a key without a policy."""
    policy = POLICIES.get(key)
    return policy(value) if policy else []


def check(config: Mapping[str, str], namespace: str = "lab") -> str | None:
    """The first refusal among the secrets set in `config` (the engine's `lab:<key>` map, the
    secrets decrypted), as one message; None when every one passes or is not set yet."""
    for key in POLICIES:
        value = config.get(f"{namespace}:{key}")
        reasons = refused(key, value) if value is not None else []
        if reasons:
            return (
                f"lab:{key} {', '.join(reasons)}; set another (pulumi config set --secret) or"
                " remove it and `make up` generates one"
            )
    return None
