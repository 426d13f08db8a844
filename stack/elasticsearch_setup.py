"""The security setup step: as `elastic`, give every other login of the lab its user, role and
password, and put the log retention policy (a Pulumi dynamic provider, run where Pulumi runs,
against Elasticsearch's published URL).

In order: wait until Elasticsearch answers `GET /` as `elastic`; set kibana_system's password
(`POST /_security/user/kibana_system/_password`: a reserved user cannot be PUT); `PUT` each
role, then each user with its password; `PUT` the ILM policy, then the index templates (the
Logstash writer may not). Every call is a create-or-update, so a re-run converges rather than
fails. The resource diffs on a hash of all its inputs,
passwords included, so a changed password re-runs the step and nothing else does; the hash is a
secret output (a password's digest stays encrypted in the state). A refusal fails with the step,
the request and Elasticsearch's answer.

Pulumi pickles the provider (dill) into a host process that cannot import stack/, so what the
provider calls is marked to be pickled by value (end of module) and uses the standard library.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

import pulumi
import pulumi.dynamic

from stack.dynamic_provider import ApplyingProvider, by_value

RESOURCE_ID = "lab-elasticsearch-security"
DEFAULT_DEADLINE_SECONDS = 300.0
DEFAULT_RETRY_DELAY_SECONDS = 3.0
# Inputs the hash covers; `state_hash` itself is the output.
HASHED_INPUTS = (
    "elasticsearch_url",
    "elastic_password",
    "kibana_system_password",
    "roles",
    "users",
    "passwords",
    "ilm_policies",
    "index_templates",
    "trigger",
)
HINTS = {
    # elastic's password is the keystore's bootstrap.password, which the image's entrypoint
    # fills from ELASTIC_PASSWORD_FILE in each new container, as long as nothing stored another
    # one in the security index (ReservedRealm.java); the lab never does.
    401: "Elasticsearch did not accept the `elastic` login: lab:elasticPassword is not the "
    "password the running container holds (its ELASTIC_PASSWORD_FILE is older, or elastic's "
    "password was changed through the API, which then overrides the file)",
    403: "the login lacks a privilege this step needs; the setup must run as a superuser",
}


class SetupError(RuntimeError):
    pass


def inputs_hash(props: dict[str, Any]) -> str:
    canonical = json.dumps({key: props.get(key) for key in HASHED_INPUTS}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tls_context(ca_certificate: str | None) -> ssl.SSLContext | None:
    """For an https URL: verify the server against `ca_certificate` (PEM) alone, host name
    included; None leaves urllib's default (the system's CAs, which never hold the lab's)."""
    return ssl.create_default_context(cadata=ca_certificate) if ca_certificate else None


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any,
    auth: str,
    timeout: float = 30.0,
    ca_certificate: str | None = None,
) -> tuple[int, Any]:
    """One JSON request; the HTTP status and the decoded answer, errors included. Over https
    the server must prove itself with a certificate from `ca_certificate`."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": auth, "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        base_url.rstrip("/") + path, data=data, method=method, headers=headers
    )
    try:
        context = tls_context(ca_certificate)
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw.decode() or "null")
    except ValueError:
        return status, raw.decode(errors="replace")


def describe(answer: Any) -> str:
    """Elasticsearch's error type and reason, or the answer itself."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return f"{error.get('type')}: {error.get('reason')}"
    return json.dumps(answer)[:500] if not isinstance(answer, str) else answer[:500]


def refused(step: str, method: str, path: str, status: int, answer: Any) -> SetupError:
    hint = HINTS.get(status, "")
    return SetupError(
        f"Elasticsearch security setup failed at step '{step}' ({method} {path}): "
        f"HTTP {status} {describe(answer)}" + (f". {hint}" if hint else "")
    )


def wait_for_elasticsearch(
    url: str,
    auth: str,
    deadline_seconds: float,
    retry_delay_seconds: float,
    ca_certificate: str | None = None,
) -> None:
    """Until `GET /` answers 200 as elastic; 401/403 and a server that fails verification
    (before any password is sent) fail at once, unready answers are retried."""
    give_up_at = time.monotonic() + deadline_seconds
    attempts = 0
    while True:
        attempts += 1
        try:
            status, answer = call(
                url, "GET", "/", None, auth, timeout=10.0, ca_certificate=ca_certificate
            )
        except (ConnectionError, urllib.error.URLError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise SetupError(
                    f"Elasticsearch security setup failed at step 'wait for Elasticsearch': "
                    f"{url} is not the lab's Elasticsearch: its certificate does not verify "
                    f"against the lab's CA ({reason.verify_message or reason})"
                ) from None
            status, answer = None, str(reason)
        if status == 200:
            return
        if status in (401, 403):
            raise refused("wait for Elasticsearch", "GET", "/", status, answer)
        if time.monotonic() + retry_delay_seconds > give_up_at:
            raise SetupError(
                f"Elasticsearch security setup failed at step 'wait for Elasticsearch': "
                f"{url} did not answer after {attempts} attempts (last: "
                f"{status or 'no connection'} {describe(answer)})"
            )
        time.sleep(retry_delay_seconds)


def requests_for(props: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(step, method, path, body) in the order they are sent."""
    steps = [
        (
            "set the kibana_system password",
            "POST",
            "/_security/user/kibana_system/_password",
            {"password": props["kibana_system_password"]},
        )
    ]
    for name, body in sorted(props["roles"].items()):
        steps.append((f"put role {name}", "PUT", f"/_security/role/{name}", body))
    for name, body in sorted(props["users"].items()):
        full = {**body, "password": props["passwords"][name]}
        steps.append((f"put user {name}", "PUT", f"/_security/user/{name}", full))
    for name, body in sorted(props["ilm_policies"].items()):
        steps.append((f"put ILM policy {name}", "PUT", f"/_ilm/policy/{name}", body))
    # After the policy its template names; Logstash's writer may not install templates.
    for name, body in sorted((props.get("index_templates") or {}).items()):
        steps.append((f"put index template {name}", "PUT", f"/_index_template/{name}", body))
    return steps


def apply_security(
    props: dict[str, Any],
    *,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> dict[str, Any]:
    """Send every request as elastic; per role and user path, whether Elasticsearch created it
    (True) or updated it (False)."""
    url = props["elasticsearch_url"]
    ca_certificate = props.get("ca_certificate")
    auth = basic_auth("elastic", props["elastic_password"])
    wait_for_elasticsearch(url, auth, deadline_seconds, retry_delay_seconds, ca_certificate)
    created: dict[str, Any] = {}
    for step, method, path, body in requests_for(props):
        status, answer = call(url, method, path, body, auth, ca_certificate=ca_certificate)
        if status != 200:
            raise refused(step, method, path, status, answer)
        # Roles answer {"role": {"created": b}}, users {"created": b}; the rest has no flag.
        if isinstance(answer, dict) and ("created" in answer or "role" in answer):
            created[path] = answer.get("created", answer.get("role", {}).get("created"))
    return created


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    # Names only: the passwords stay inputs (secret), their digest a secret output.
    return {
        "elasticsearch_url": props["elasticsearch_url"],
        "roles": props["roles"],
        "users": props["users"],
        "ilm_policies": props["ilm_policies"],
        "index_templates": props.get("index_templates") or {},
        "state_hash": inputs_hash(props),
    }


class ElasticsearchSecurityProvider(ApplyingProvider):
    resource_id = RESOURCE_ID

    def __init__(
        self,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
    ) -> None:
        self.deadline_seconds = deadline_seconds
        self.retry_delay_seconds = retry_delay_seconds

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]):
        changed = olds.get("state_hash") != inputs_hash(news)
        return pulumi.dynamic.DiffResult(changes=changed, replaces=[])

    def apply(self, props: dict[str, Any]) -> dict[str, Any]:
        apply_security(
            props,
            deadline_seconds=self.deadline_seconds,
            retry_delay_seconds=self.retry_delay_seconds,
        )
        return _outputs(props)


by_value(
    SetupError,
    inputs_hash,
    basic_auth,
    tls_context,
    call,
    describe,
    refused,
    wait_for_elasticsearch,
    requests_for,
    apply_security,
    _outputs,
    ElasticsearchSecurityProvider,
)


class ElasticsearchSecurity(pulumi.dynamic.Resource):
    """Users, roles and the ILM policy in Elasticsearch; re-applied when any input changes."""

    state_hash: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        elasticsearch_url: pulumi.Input[str],
        elastic_password: pulumi.Input[str],
        kibana_system_password: pulumi.Input[str],
        roles: dict[str, dict],
        users: dict[str, dict],
        passwords: dict[str, pulumi.Input[str]],
        ilm_policies: dict[str, dict],
        index_templates: dict[str, dict] | None = None,
        trigger: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        ca_certificate: pulumi.Input[str] | None = None,
    ) -> None:
        missing = sorted(set(users) - set(passwords))
        if missing:
            raise ValueError(f"no password for users {missing}")
        secret = pulumi.ResourceOptions(additional_secret_outputs=["state_hash"])
        super().__init__(
            ElasticsearchSecurityProvider(deadline_seconds),
            name,
            {
                "elasticsearch_url": elasticsearch_url,
                "elastic_password": pulumi.Output.secret(elastic_password),
                "kibana_system_password": pulumi.Output.secret(kibana_system_password),
                "roles": roles,
                "users": users,
                "passwords": {
                    user: pulumi.Output.secret(password) for user, password in passwords.items()
                },
                "ilm_policies": ilm_policies,
                "index_templates": index_templates or {},
                # Re-apply when this changes: the Elasticsearch container's id, so a replaced
                # container (or data volume) gets its users again.
                "trigger": trigger,
                # The CA (PEM) an https URL's server must prove itself with (Swarm); not hashed:
                # a new CA means a new Elasticsearch task, which the trigger already follows.
                **(
                    {"ca_certificate": pulumi.Output.secret(ca_certificate)}
                    if ca_certificate is not None
                    else {}
                ),
                "state_hash": None,
            },
            pulumi.ResourceOptions.merge(opts, secret),
        )
