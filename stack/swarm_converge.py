"""Swarm ordering (issue 23, finding 7): a service that others depend on is waited for until
its tasks run, with a timeout that holds a first pull of the largest images.

Without `converge_config` the provider returns once the service spec exists
(kreuzwerker/terraform-provider-docker v4.5.0 resource_docker_service_funcs.go: create and
update poll the tasks only `if converge_config` is set), so `depends_on` waits for nothing
running. The wait counts running tasks against Spec.Mode.Replicated.Replicas ("no replica
count" otherwise: stack/swarm_objects.part_service() always declares the count).
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from stack.stopping import duration_seconds, swarm_duration

# A first `up` pulls every image on the node a task lands on; the Elastic images are the
# largest (about 1 GB of compressed layers each for Elasticsearch, Logstash and Kibana 8.x).
# 10 minutes is about 1 GB at 15 Mbit/s; a faster line simply converges sooner.
FIRST_PULL_SECONDS = 600
# How often the provider looks at the tasks while it waits (its default is 7 s).
CONVERGE_DELAY = "5s"


def converge_config(health) -> docker.ServiceConvergeConfigArgs:
    """Wait, on create and update, until every task runs: without it `depends_on` waits for
    the service spec only (terraform-provider-docker v4.5.0 resource_docker_service_funcs.go:
    create and update poll the tasks only `if converge_config` is set). A task with a health
    check reaches `running` only once healthy (moby daemon/cluster/executor/container/
    controller.go Start), so the timeout covers a first pull plus the check's slowest way to
    healthy (start period + retries x interval); the provider's default, 3m, does not. A global
    service gets none: the schema refuses converge_config with mode.global."""
    window = 0
    if health is not None:
        window = duration_seconds(pulumi.get(health, "start_period")) + int(
            pulumi.get(health, "retries")
        ) * duration_seconds(pulumi.get(health, "interval"))
    timeout = FIRST_PULL_SECONDS + max(window, 60)
    return docker.ServiceConvergeConfigArgs(delay=CONVERGE_DELAY, timeout=swarm_duration(timeout))
