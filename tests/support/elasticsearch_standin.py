"""A local server that answers Elasticsearch 8.19's security and ILM calls as the product does.

Elasticsearch cannot run here, so the security setup step (stack/elasticsearch_setup.py) is
proved against this. What it encodes, from elastic/elasticsearch (x-pack/plugin/security and
x-pack/plugin/core at 8.x):
- authentication (DefaultAuthenticationFailureHandler.java): no credentials -> 401 "missing
  authentication credentials for REST request [<uri>]", a wrong password -> 401 "unable to
  authenticate user [<user>] for REST request [<uri>]", both with the WWW-Authenticate challenges
  `Basic realm="security" charset="UTF-8"` and `ApiKey`;
- authorization (AuthorizationDenialMessages.java): a missing cluster privilege -> 403 "action
  [<action>] is unauthorized for user [<user>] with effective roles [<roles>], this action is
  granted by the cluster privileges [<privileges>]";
- answers: PUT role `{"role": {"created": b}}` (RestPutRoleAction), PUT user `{"created": b}`
  (RestPutUserAction), change password `{}` (RestChangePasswordAction), PUT ILM policy
  `{"acknowledged": true}`, PUT index template `{"acknowledged": true}` with the
  `manage_index_templates` (or `manage`) cluster privilege; a reserved user cannot be PUT
  (400 "user [x] is reserved and only the password can be changed"), a new user needs a
  password of at least 6 characters, unknown privilege names are refused (IndexPrivilege.java,
  ClusterPrivilegeResolver.java).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "8.19.4"
RESERVED_USERS = ("elastic", "kibana_system", "logstash_system", "beats_system", "apm_system")
INDEX_PRIVILEGES = frozenset(
    [
        "none",
        "all",
        "manage",
        "create_index",
        "monitor",
        "read",
        "index",
        "delete",
        "write",
        "create",
        "create_doc",
        "delete_index",
        "view_index_metadata",
        "read_cross_cluster",
        "manage_follow_index",
        "manage_leader_index",
        "manage_ilm",
        "manage_data_stream_lifecycle",
        "maintenance",
        "auto_configure",
        "read_failure_store",
        "manage_failure_store",
        "cross_cluster_replication",
        "cross_cluster_replication_internal",
    ]
)
# The cluster privileges the lab's roles may name (a subset of ClusterPrivilegeResolver's).
CLUSTER_PRIVILEGES = frozenset(
    [
        "all",
        "monitor",
        "manage",
        "manage_security",
        "manage_ilm",
        "manage_index_templates",
        "manage_ingest_pipelines",
        "read_ilm",
        "monitor_snapshot",
        "none",
    ]
)
ROLE_FIELDS = frozenset(
    [
        "cluster",
        "indices",
        "applications",
        "run_as",
        "metadata",
        "global",
        "remote_indices",
        "remote_cluster",
        "description",
        "transient_metadata",
    ]
)
USER_FIELDS = frozenset(
    ["password", "password_hash", "roles", "full_name", "email", "metadata", "enabled"]
)
ILM_PHASES = ("hot", "warm", "cold", "frozen", "delete")
TIME_VALUE = re.compile(r"^\d+(nanos|micros|ms|s|m|h|d)$")
# action -> the cluster privileges that grant it (ClusterPrivilegeResolver)
ACTIONS = {
    "main": ("cluster:monitor/main", ("monitor", "manage", "all")),
    "cluster_health": ("cluster:monitor/health", ("monitor", "manage", "all")),
    "put_role": ("cluster:admin/xpack/security/role/put", ("manage_security", "all")),
    "put_user": ("cluster:admin/xpack/security/user/put", ("manage_security", "all")),
    "change_password": (
        "cluster:admin/xpack/security/user/change_password",
        ("manage_security", "all"),
    ),
    "put_ilm": ("cluster:admin/ilm/put", ("manage_ilm", "manage", "all")),
    # ClusterPrivilegeResolver: MANAGE_INDEX_TEMPLATES and MANAGE name the
    # `indices:admin/index_template/*` actions (a cluster privilege, though an indices action).
    "put_index_template": (
        "indices:admin/index_template/put",
        ("manage_index_templates", "manage", "all"),
    ),
}


def _error(status: int, kind: str, reason: str) -> dict:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


class ElasticsearchStandIn(ThreadingHTTPServer):
    """State: users (name -> {password, roles, ...}), roles, ILM policies, and every request."""

    def __init__(self, elastic_password: str, *, unready: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.unready = unready
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, user
        self.roles: dict[str, dict] = {"superuser": {"cluster": ["all"]}}
        self.users: dict[str, dict] = {
            "elastic": {"password": elastic_password, "roles": ["superuser"]},
            "kibana_system": {"password": None, "roles": ["kibana_system"]},
        }
        self.policies: dict[str, dict] = {}
        self.index_templates: dict[str, dict] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def authenticates(self, user: str, password: str) -> bool:
        known = self.users.get(user)
        return bool(known) and known.get("password") == password

    def writes(self) -> list[tuple[str, str, str | None]]:
        return [request for request in self.requests if request[0] != "GET"]

    def start(self) -> ElasticsearchStandIn:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ElasticsearchStandIn

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-elastic-product", "Elasticsearch")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _user(self) -> str | None:
        """The authenticated user, or None after answering 401."""
        header = self.headers.get("Authorization", "")
        challenge = (
            ("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"'),
            ("WWW-Authenticate", "ApiKey"),
        )
        if not header.startswith("Basic "):
            reason = f"missing authentication credentials for REST request [{self.path}]"
            self._send(401, _error(401, "security_exception", reason), challenge)
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if not self.server.authenticates(user, password):
            reason = f"unable to authenticate user [{user}] for REST request [{self.path}]"
            self._send(401, _error(401, "security_exception", reason), challenge)
            return None
        return user

    def _allowed(self, user: str, action_key: str) -> bool:
        action, granting = ACTIONS[action_key]
        roles = self.server.users[user]["roles"]
        held = {p for role in roles for p in self.server.roles.get(role, {}).get("cluster", [])}
        if held & set(granting):
            return True
        reason = (
            f"action [{action}] is unauthorized for user [{user}] with effective roles "
            f"[{','.join(roles)}], this action is granted by the cluster privileges "
            f"[{','.join(granting)}]"
        )
        self._send(403, _error(403, "security_exception", reason))
        return False

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _serve(self) -> None:
        body = self._body()
        with self.server.lock:
            if self.server.unready > 0:
                self.server.unready -= 1
                self.server.requests.append((self.command, self.path, None))
                return self._send(503, _error(503, "master_not_discovered_exception", "none"))
            user = self._user()
            self.server.requests.append((self.command, self.path, user))
            if user is None:
                return None
            route = self._route()
            if route is None:
                return self._send(404, _error(404, "no_handler", f"{self.command} {self.path}"))
            action_key, name = route
            if not self._allowed(user, action_key):
                return None
            return getattr(self, f"_{action_key}")(name, body)

    def _route(self) -> tuple[str, str] | None:
        patterns = (
            ("GET", r"^/$", "main"),
            ("GET", r"^/_cluster/health(\?.*)?$", "cluster_health"),
            ("PUT", r"^/_security/role/([^/]+)$", "put_role"),
            ("PUT", r"^/_security/user/([^/]+)$", "put_user"),
            ("POST", r"^/_security/user/([^/]+)/_password$", "change_password"),
            ("PUT", r"^/_ilm/policy/([^/]+)$", "put_ilm"),
            ("PUT", r"^/_index_template/([^/]+)$", "put_index_template"),
        )
        for method, pattern, key in patterns:
            match = re.match(pattern, self.path)
            if method == self.command and match:
                return key, (match.groups() or ("",))[0]
        return None

    do_GET = do_PUT = do_POST = _serve

    def _main(self, _name: str, _body: Any) -> None:
        self._send(
            200,
            {
                "name": "elasticsearch",
                "cluster_name": "lab",
                "version": {"number": VERSION},
                "tagline": "You Know, for Search",
            },
        )

    def _invalid(self, reason: str, kind: str = "action_request_validation_exception") -> None:
        self._send(400, _error(400, kind, reason))

    def _put_role(self, name: str, body: dict) -> None:
        unknown = set(body) - ROLE_FIELDS
        if unknown:
            return self._invalid(f"failed to parse role [{name}]: {sorted(unknown)}", "parse")
        for privilege in body.get("cluster", []):
            if privilege not in CLUSTER_PRIVILEGES:
                return self._invalid(f"unknown cluster privilege [{privilege}]")
        for group in body.get("indices", []):
            if not group.get("names") or not group.get("privileges"):
                return self._invalid("indices require names and privileges")
            for privilege in group["privileges"]:
                if privilege not in INDEX_PRIVILEGES:
                    return self._invalid(f"unknown index privilege [{privilege}]")
        for group in body.get("applications", []):
            if set(group) != {"application", "privileges", "resources"}:
                return self._invalid(f"application privileges need exactly {sorted(group)}")
        created = name not in self.server.roles
        self.server.roles[name] = body
        self._send(200, {"role": {"created": created}})

    def _put_user(self, name: str, body: dict) -> None:
        if name in RESERVED_USERS:
            reason = (
                f"Validation Failed: 1: user [{name}] is reserved and only the password can be "
                "changed;"
            )
            return self._invalid(reason)
        unknown = set(body) - USER_FIELDS
        if unknown:
            return self._invalid(f"failed to parse add user request: {sorted(unknown)}", "parse")
        created = name not in self.server.users
        password = body.get("password")
        if password is None and created:
            return self._invalid(
                "Validation Failed: 1: passwords must be set when creating a user;"
            )
        if password is not None and len(password) < 6:
            return self._invalid(
                "Validation Failed: 1: passwords must be at least [6] characters long;"
            )
        previous = self.server.users.get(name, {})
        self.server.users[name] = {**previous, **body}
        self._send(200, {"created": created})

    def _change_password(self, name: str, body: dict) -> None:
        if name not in self.server.users:
            return self._send(
                404, _error(404, "resource_not_found_exception", f"user [{name}] not found")
            )
        password = (body or {}).get("password") or ""
        if len(password) < 6:
            return self._invalid(
                "Validation Failed: 1: passwords must be at least [6] characters long;"
            )
        self.server.users[name]["password"] = password
        self._send(200, {})

    def _put_ilm(self, name: str, body: dict) -> None:
        policy = (body or {}).get("policy")
        if not isinstance(policy, dict) or set(policy) - {"phases", "_meta", "deprecated"}:
            return self._invalid(
                "policy must be one object of phases (and _meta)", "x_content_parse_exception"
            )
        for phase, spec in policy.get("phases", {}).items():
            if phase not in ILM_PHASES:
                return self._invalid(
                    f"Timeseries lifecycle does not support phase [{phase}]",
                    "illegal_argument_exception",
                )
            if "min_age" in spec and not TIME_VALUE.match(spec["min_age"]):
                return self._invalid(
                    f"failed to parse setting [min_age] with value [{spec['min_age']}]",
                    "illegal_argument_exception",
                )
        self.server.policies[name] = policy
        self._send(200, {"acknowledged": True})

    def _put_index_template(self, name: str, body: dict) -> None:
        # MetadataIndexTemplateService: a composable template needs index_patterns.
        if not isinstance(body, dict) or not body.get("index_patterns"):
            return self._invalid(
                "Validation Failed: 1: index patterns are missing;", "action_request_validation"
            )
        self.server.index_templates[name] = body
        self._send(200, {"acknowledged": True})

    def _cluster_health(self, _name: str, _body: Any) -> None:
        # One node holding no replica: yellow at best (RestClusterHealthAction's body).
        self._send(200, {"cluster_name": "lab", "status": "yellow", "number_of_nodes": 1})
