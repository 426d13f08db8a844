"""What every lab component is: a Pulumi `ComponentResource` typed after its class,
`lab:stack:<class>` on one host and `lab:swarm:<class without Swarm>` on Swarm (the same type
names the state has always held), that declares its resources in `declare()` and registers
what that returns."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi


class LabComponent(pulumi.ComponentResource):
    ENGINE: ClassVar[str] = "stack"

    def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        kind = type(self).__name__.removeprefix("Swarm")
        super().__init__(f"lab:{self.ENGINE}:{kind}", name, None, opts)
        self.register_outputs(self.declare(name, args))

    def declare(self, name: str, args: Any) -> dict[str, Any]:
        """Declare the component's resources under it; return its outputs."""
        raise NotImplementedError


class SwarmComponent(LabComponent):
    ENGINE = "swarm"
