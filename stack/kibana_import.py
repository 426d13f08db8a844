"""Kibana saved objects, imported through Kibana's saved objects import API (a dynamic provider).

`POST {kibana}/api/saved_objects/_import?overwrite=true`, `kbn-xsrf` header, body
multipart/form-data with the NDJSON as the `file` field (a `*.ndjson` filename), as the
Kibana 8.19 API reference specifies. The import waits (bounded) while Kibana starts: connection
refused or 503. The resource diffs on the content's hash: the same objects are not re-imported,
changed ones are, with overwrite, so re-imports are idempotent.

With Elasticsearch security on, the import signs in (HTTP basic) as the lab's importer user,
whose role allows only Kibana's saved-objects management (stack/configs/elasticsearch_security.py);
a refused login (401/403) is retried for a bounded time (Kibana registers its privileges
asynchronously at start), then fails with Kibana's answer. The password is a secret input and
never an output; a changed password alone does not re-import.

Pulumi pickles the provider (dill) and runs it in a separate host process that cannot import
stack/; every function the provider calls is therefore marked to be pickled by value (see the
end of this module) and uses the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pulumi
import pulumi.dynamic

from stack.dynamic_provider import ApplyingProvider, by_value

IMPORT_PATH = "/api/saved_objects/_import"
FILENAME = "lab-saved-objects.ndjson"
RESOURCE_ID = "lab-saved-objects"
DEFAULT_DEADLINE_SECONDS = 300.0
DEFAULT_RETRY_DELAY_SECONDS = 3.0
# How long a refused login (401/403) is retried from the first refusal: Kibana registers its
# feature privileges with Elasticsearch asynchronously once Elasticsearch is reachable
# (elastic/kibana 8.19 x-pack/platform/plugins/shared/security/server/authorization/
# authorization_service.tsx start(): registerPrivilegesWithCluster on online$, retried), and
# until then the importer's role names privileges Elasticsearch does not know, so the API
# check answers 403 (authorization/api_authorization.ts response.forbidden).
DEFAULT_AUTH_RETRY_SECONDS = 60.0
REFUSED = (401, 403)


def content_hash(ndjson: str) -> str:
    return hashlib.sha256(ndjson.encode()).hexdigest()


def multipart_body(ndjson: str, boundary: str) -> bytes:
    """One form-data part named `file`, as `curl --form file=@objects.ndjson` would send it."""
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{FILENAME}"\r\n'
        "Content-Type: application/ndjson\r\n"
        "\r\n"
        f"{ndjson}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def import_saved_objects(
    kibana_url: str,
    ndjson: str,
    *,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
    request_timeout: float = 30.0,
    username: str | None = None,
    password: str | None = None,
    auth_retry_seconds: float = DEFAULT_AUTH_RETRY_SECONDS,
) -> dict:
    """Import with overwrite; retry while Kibana is not ready yet (connection refused, 503)
    and, for `auth_retry_seconds` from the first one, a refused login (401/403, while Kibana
    registers its privileges); return Kibana's answer."""
    login = {}
    if username is not None:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        login = {"Authorization": f"Basic {token}"}
    boundary = f"lab-{uuid.uuid4().hex}"
    body = multipart_body(ndjson, boundary)
    url = kibana_url.rstrip("/") + IMPORT_PATH + "?overwrite=true"
    give_up_at = time.monotonic() + deadline_seconds
    attempts = 0
    refused_since = None
    who = f" as {username}" if username is not None else ""
    while True:
        attempts += 1
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "kbn-xsrf": "true",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(body)),
                **login,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=request_timeout) as response:
                answer = json.loads(response.read().decode() or "{}")
            break
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:2000]
            if error.code not in (503, *REFUSED):  # "not ready yet" is worth waiting for
                raise RuntimeError(
                    f"Kibana import failed{who}: HTTP {error.code}: {detail}"
                ) from None
            reason = f"HTTP {error.code}"
            if error.code in REFUSED:
                now = time.monotonic()
                refused_since = now if refused_since is None else refused_since
                if now + retry_delay_seconds > min(refused_since + auth_retry_seconds, give_up_at):
                    raise RuntimeError(
                        f"Kibana import failed{who}: HTTP {error.code}: {detail} (still refused"
                        f" after {attempts} attempts over {now - refused_since:.0f} s: a wrong"
                        " password answers 401, a role without saved-objects management 403)"
                    ) from None
        except (ConnectionError, urllib.error.URLError, TimeoutError) as error:
            reason = str(getattr(error, "reason", error))
        if time.monotonic() + retry_delay_seconds > give_up_at:
            raise RuntimeError(
                f"Kibana at {kibana_url} not ready after {attempts} attempts ({reason})"
            )
        time.sleep(retry_delay_seconds)
    failures = answer.get("errors") or []
    if failures or not answer.get("success"):
        # Kibana answers 200 with success false and one entry per object it left out.
        lines = [
            f"{e.get('type')} {e.get('id')} ({e.get('title', '')}): {error.get('type')} "
            + json.dumps(error.get("references", []))
            for e in failures
            for error in [e.get("error", {})]
        ]
        raise RuntimeError(
            f"Kibana imported {answer.get('successCount', 0)} saved objects and refused "
            f"{len(failures)}:\n" + ("\n".join(lines) or json.dumps(answer)[:2000])
        )
    return answer


def _outputs(props: dict[str, Any], answer: dict) -> dict[str, Any]:
    return {
        "kibana_url": props["kibana_url"],
        "trigger": props.get("trigger"),
        "ndjson": props["ndjson"],
        "content_hash": content_hash(props["ndjson"]),
        "success_count": int(answer.get("successCount", 0)),
    }


class KibanaSavedObjectsProvider(ApplyingProvider):
    resource_id = RESOURCE_ID

    def __init__(self, deadline_seconds: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self.deadline_seconds = deadline_seconds

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]):
        changed = []
        if olds.get("content_hash") != content_hash(news["ndjson"]):
            changed.append("ndjson")
        for key in ("kibana_url", "trigger"):
            if olds.get(key) != news.get(key):
                changed.append(key)
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[])

    def apply(self, props: dict[str, Any]) -> dict[str, Any]:
        answer = import_saved_objects(
            props["kibana_url"],
            props["ndjson"],
            deadline_seconds=self.deadline_seconds,
            username=props.get("username"),
            password=props.get("password"),
        )
        return _outputs(props, answer)


by_value(
    content_hash,
    multipart_body,
    import_saved_objects,
    _outputs,
    KibanaSavedObjectsProvider,
)


class KibanaSavedObjects(pulumi.dynamic.Resource):
    """The lab's saved objects in Kibana; re-imported when `ndjson` changes."""

    content_hash: pulumi.Output[str]
    success_count: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        kibana_url: pulumi.Input[str],
        ndjson: pulumi.Input[str],
        trigger: pulumi.Input[str] | None = None,
        username: str | None = None,
        password: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        super().__init__(
            KibanaSavedObjectsProvider(deadline_seconds),
            name,
            {
                "kibana_url": kibana_url,
                "ndjson": ndjson,
                # Re-import when this changes, e.g. the id of a re-created Kibana container.
                "trigger": trigger,
                # The importer's login (security on); the password stays a secret input.
                "username": username,
                "password": None if password is None else pulumi.Output.secret(password),
                "content_hash": None,
                "success_count": None,
            },
            opts,
        )
