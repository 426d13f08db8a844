"""The function service image, built from app/ on the Docker host (no registry, no push).

The tag is a hash of app/'s sources, so changing the app gives a new image name and Pulumi
replaces the function containers; an unchanged app keeps them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_DIR = REPO_ROOT / "app"
_IGNORED_PARTS = {"__pycache__", ".pytest_cache"}


def source_hash(directory: Path = APP_DIR) -> str:
    """A short, stable hash of the build context's files (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and not _IGNORED_PARTS & set(relative.parts):
            if path.suffix == ".pyc":
                continue
            digest.update(str(relative).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_context() -> str:
    """app/ relative to the working directory: `app` from the repo root, as Docker expects."""
    return os.path.relpath(APP_DIR)


@dataclass
class AppImageArgs:
    repository: str  # e.g. `lab-dev-app`
    base_image: str  # `lab:images.python`


class AppImage(pulumi.ComponentResource):
    image_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:AppImage", name, None, opts)
        context = build_context()
        image = docker.Image(
            f"{name}-image",
            image_name=f"{args.repository}:{source_hash()}",
            build=docker.DockerBuildArgs(
                context=context,
                dockerfile=os.path.join(context, "Dockerfile"),
                args={"BASE_IMAGE": args.base_image},
            ),
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_name = image.image_name
        self.register_outputs({"image_name": self.image_name})
