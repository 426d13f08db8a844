"""The function service image, built from app/ on the Docker host (no registry, no push).

The tag is a hash of what the build really sends: the Dockerfile and every file of app/
that app/.dockerignore lets through. Changing the app gives a new image name and Pulumi
replaces the function containers; editing a file Docker ignores (a README, a cache) does not.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from app import contract
from stack.component import LabComponent

# The app image's build context: app/, where the contract ships.
APP_DIR = Path(contract.__file__).resolve().parent


@dataclass(frozen=True)
class _IgnoreRule:
    pattern: re.Pattern[str]
    keep: bool  # a `!pattern` line: put back what an earlier line dropped


def _compile(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker's pattern matcher reads it: `*` and `?` stay within
    one path segment, `**` spans any number of segments (none included), `\\` escapes."""
    regex, i, in_class = "", 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            i += 1
            regex += re.escape(pattern[i])
        elif in_class:
            in_class = char != "]"
            regex += char
        elif pattern.startswith("**", i):
            i += 1
            if pattern.startswith("/", i + 1):
                i += 1
            regex += ".*" if i + 1 == len(pattern) else "(?:.*/)?"
        elif char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[":
            in_class = True
            regex += char
        else:
            regex += re.escape(char)
        i += 1
    return re.compile(regex + r"\Z")


def _ignore_rules(directory: Path) -> list[_IgnoreRule]:
    """The rules of `directory/.dockerignore`, cleaned the way Docker cleans them."""
    path = directory / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if keep else line).lstrip("/")
        rules.append(_IgnoreRule(_compile(pattern), keep))
    return rules


def _ignored(relative: str, rules: list[_IgnoreRule]) -> bool:
    # A rule that matches a file's folder matches the file; the last matching rule wins.
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        if rule.keep == ignored and any(rule.pattern.match(c) for c in candidates):
            ignored = not rule.keep
    return ignored


def context_files(directory: Path = APP_DIR) -> Iterator[str]:
    """The build context's files, relative and sorted: what `docker build` would send."""
    rules = _ignore_rules(directory)
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and not _ignored(relative, rules):
            yield relative


def source_hash(directory: Path = APP_DIR) -> str:
    """A short, stable hash of the Dockerfile and the build context (names and bytes)."""
    digest = hashlib.sha256()
    # Docker sends the Dockerfile even when .dockerignore names it, and it shapes the image.
    for relative in sorted({"Dockerfile", *context_files(directory)}):
        digest.update(relative.encode() + b"\0")
        digest.update((directory / relative).read_bytes())
    return digest.hexdigest()[:12]


def build_context() -> str:
    """app/ relative to the working directory: `app` from the repo root, as Docker expects."""
    return os.path.relpath(APP_DIR)


@dataclass
class AppImageArgs:
    repository: str  # e.g. `lab-dev-app`
    base_image: str  # `lab:images.python`


class AppImage(LabComponent):
    image_name: pulumi.Output[str]

    def declare(self, name: str, args: AppImageArgs) -> dict:
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
        return {"image_name": self.image_name}
