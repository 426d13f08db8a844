"""What the live harness does with each container input, next to what the real provider does.

Provider: kreuzwerker/terraform-provider-docker v4.5.0 (under pulumi-docker 5.2.0),
internal/provider/resource_docker_container_funcs.go (create, update, read) and
resource_docker_container.go (schema), as docs/product-rules.md D1-D4 records them. Harness:
tests/support/harness.py and harness_inputs.py. `difference` is None where the harness makes
the same Docker API call the provider makes; otherwise it says how and why they differ.
"""

SAME = None
REPLACE = "ForceNew: a change replaces the container"

# input -> (provider, harness, difference)
CONTAINER_INPUTS: dict[str, tuple[str, str, str | None]] = {
    "name": (f"ContainerCreate name; {REPLACE}", "create_container name", SAME),
    "image": (f"Config.Image after findImage; {REPLACE}", "create_container image", SAME),
    "envs": (f"Config.Env; {REPLACE}", "environment", SAME),
    "command": (f"Config.Cmd (no empty item); {REPLACE}", "command", SAME),
    "entrypoints": (f"Config.Entrypoint; {REPLACE}", "entrypoint", SAME),
    "hostname": ("Config.Hostname", "hostname", SAME),
    "workingDir": ("Config.WorkingDir", "working_dir", SAME),
    "user": (f"Config.User; {REPLACE}", "user", SAME),
    "labels": (
        f"Config.Labels; {REPLACE}",
        "labels plus the harness's ownership labels",
        "extra lab.harness labels so teardown finds only its own objects",
    ),
    "ports": (f"ExposedPorts + PortBindings, ip default 0.0.0.0; {REPLACE}", "port_bindings", SAME),
    "networksAdvanced": (
        f"disconnect bridge, NetworkConnect each with aliases; {REPLACE}",
        "create on `bridge`, disconnect it, NetworkConnect each (attach_networks)",
        SAME,
    ),
    "networkMode": ("HostConfig.NetworkMode, default bridge", "network_mode, default bridge", SAME),
    "uploads": (
        f"tar to / after create, mode from permissions (0644; executable 0744), "
        f"root:root unless owner/group; {REPLACE}",
        "put_archive of one tar",
        "executable without permissions gives 0755 here, 0744 in the provider; the "
        "program always sets permissions",
    ),
    "healthcheck": (
        "Config.Healthcheck, durations via time.ParseDuration (errors -> 0); "
        "neither ForceNew nor updated",
        "Healthcheck with parsed durations",
        "a bad duration raises here instead of silently becoming 0",
    ),
    "restart": ("RestartPolicy; updated in place", "restart_policy", SAME),
    "maxRetryCount": ("RestartPolicy.MaximumRetryCount; updated in place", "restart_policy", SAME),
    "logDriver": (f"LogConfig.Type; {REPLACE}", "log_config", SAME),
    "logOpts": (f"LogConfig.Config; {REPLACE}", "log_config", SAME),
    "volumes": (f"Binds / Volumes; {REPLACE}", "binds", SAME),
    "mounts": (f"HostConfig.Mounts; {REPLACE}", "mounts", SAME),
    "readOnly": (f"ReadonlyRootfs; {REPLACE}", "read_only", SAME),
    "tmpfs": ("HostConfig.Tmpfs; neither ForceNew nor updated", "tmpfs", SAME),
    "memory": ("Memory = MB*1024*1024; updated in place", "mem_limit '<MB>m'", SAME),
    "memorySwap": ("MemorySwap MB (-1 unlimited); updated in place", "memswap_limit", SAME),
    "shmSize": (f"ShmSize MB; {REPLACE}", "shm_size", SAME),
    "securityOpts": (f"SecurityOpt; {REPLACE}", "security_opt", SAME),
    "capabilities": (f"CapAdd/CapDrop; {REPLACE}", "cap_add/cap_drop", SAME),
    "init": ("HostConfig.Init", "init", SAME),
    "stopSignal": ("Config.StopSignal", "stop_signal", SAME),
    "stopTimeout": ("Config.StopTimeout", "stop_timeout", SAME),
    "sysctls": ("HostConfig.Sysctls", "sysctls", SAME),
    "ulimits": (f"HostConfig.Ulimits; {REPLACE}", "ulimits", SAME),
    "groupAdds": ("HostConfig.GroupAdd", "group_add", SAME),
    "hosts": ("HostConfig.ExtraHosts", "extra_hosts", SAME),
    "dns": ("HostConfig.DNS", "dns", SAME),
    "privileged": (f"HostConfig.Privileged; {REPLACE}", "privileged", SAME),
    "mustRun": (
        "Read deletes a container that is not running and fails",
        "fails when the container exited",
        "no delete: the harness reports instead",
    ),
    "start": ("ContainerStart after uploads", "start after uploads", SAME),
    "wait": (
        "create only: poll Health.Status until healthy, error without a healthcheck",
        "waits for healthy (or running without a check)",
        "no healthcheck: the provider errors, the harness waits for running",
    ),
    "waitTimeout": ("seconds, default 60", "timeout seconds, default 60", SAME),
    "destroyGraceSeconds": ("ContainerStop with that timeout before remove", "stop timeout", SAME),
    "removeVolumes": ("ContainerRemove RemoveVolumes", "remove v=", SAME),
    "rm": ("HostConfig.AutoRemove", "auto_remove", SAME),
}
# Not Docker arguments: what the engine/provider add around every container.
ENGINE_ONLY = {
    "delete_before_replace": "pulumi-docker forces it for docker_container "
    "(provider/resources.go); the harness creates each container once and never replaces",
    "replace_on_changes": "engine diff only (step_generator.go); the harness never updates",
}
