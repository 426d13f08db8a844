"""The docker provider's state and plan, modelled from its source, for resources on a real daemon.

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker v4.5.0 (docs/verification.md).
Neither can run here, so this module plays their part after the live harness applied the lab:

- Read rules: `read_container`, `read_network`, `read_volume`, `read_service` turn what the
  daemon's inspect answers into the provider's state, as its Read functions do
  (internal/provider/resource_docker_container_funcs.go resourceDockerContainerRead,
  resource_docker_network_funcs.go resourceDockerNetworkReadRefreshFunc,
  resource_docker_volume.go resourceDockerVolumeRead, resource_docker_service_funcs.go
  resourceDockerServiceReadRefreshFunc with resource_docker_service_structures.go's flatten*
  functions and shortDur). The prior state they start from is what Create stored: the config
  with the schema's defaults (Create ends with Read, so the same overlay applies).
- Diff rules: `plan()` diffs that state against the declared inputs with the schema's flags
  (tests/support/provider_schema.json, extracted from the same tag by
  tests/support/provider_schema_extract.py) and the Terraform plugin SDK's diff of each type
  (helper/schema/schema.go schemaMap.diffString/diffList/diffSet/diffMap: an absent Optional
  value diffs as its zero value, an absent Computed one never diffs, a ForceNew change
  replaces, a DiffSuppressFunc can hide a change), then Pulumi's resource options
  (`ignore_changes` keeps the old value; `replace_on_changes` turns an update of that
  property into a replacement: pkg/resource/deploy/step_generator.go applyReplaceOnChanges).

The result per resource is "none", "update" or "replace", with the changed paths.
"""

from tests.support.provider_diff import (
    NONE,
    REPLACE,
    RESOURCES,
    SOURCE,
    UPDATE,
    Change,
    Plan,
    created_state,
    diff,
    file_of,
    plan,
    schema_of,
    tf_name,
    to_config,
)
from tests.support.provider_read import (
    HARNESS_LABELS,
    go_duration,
    read_config,
    read_container,
    read_network,
    read_secret,
    read_volume,
    short_dur,
)
from tests.support.provider_read_service import read_service

__all__ = [
    "HARNESS_LABELS",
    "NONE",
    "REPLACE",
    "RESOURCES",
    "SOURCE",
    "UPDATE",
    "Change",
    "Plan",
    "created_state",
    "diff",
    "file_of",
    "go_duration",
    "plan",
    "read_config",
    "read_container",
    "read_network",
    "read_secret",
    "read_service",
    "read_volume",
    "schema_of",
    "short_dur",
    "tf_name",
    "to_config",
]
