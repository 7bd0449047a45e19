"""The authorisation matrix (see authz_matrix.yaml): every route × every kind of caller against
a real server, including a member of another project (tenant isolation, IDOR) and anonymous."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import OPENAPI_PATH

MATRIX = yaml.safe_load((Path(__file__).parent / "authz_matrix.yaml").read_text())
PROJECT_ROLES = ("admin", "developer", "deployer", "auditor", "viewer")


def spec_routes() -> list:
    spec = yaml.safe_load(OPENAPI_PATH.read_text())
    routes = []
    for path, item in spec["paths"].items():
        for method in item:
            if method != "parameters":
                routes.append(f"{method.upper()} {path}")
    return sorted(routes)


def allowed_callers(route: str) -> set:
    entry = set(MATRIX["routes"][route])
    if "authenticated" in entry:
        entry.discard("authenticated")
        entry |= set(MATRIX["callers"]) - {"anonymous"}
    return entry


def test_every_route_is_in_the_matrix_and_nothing_else():
    assert sorted(MATRIX["routes"]) == spec_routes()


@pytest.fixture(scope="module")
def world(server):
    """Projects alpha and beta, one scoped key per role in alpha, an admin of beta, and
    throwaway keys for the key routes to act on."""
    for name in ("alpha", "beta"):
        response = server.post("/api/v1/projects", json={"name": name, "region": "uae-north"})
        assert response.status_code == 201, response.text
    keys = {"platform_admin": server.key}
    for role in PROJECT_ROLES:
        response = server.post("/api/v1/projects/alpha/api-keys",
                               json={"name": f"matrix-{role}", "role": role})
        assert response.status_code == 201, response.text
        assert response.json()["key"].startswith("flj_")
        keys[role] = response.json()["key"]
    outsider = server.post("/api/v1/projects/beta/api-keys",
                           json={"name": "matrix-outsider", "role": "admin"})
    assert outsider.status_code == 201, outsider.text
    keys["outsider"] = outsider.json()["key"]
    platform_target = server.post("/api/v1/api-keys", json={"name": "matrix-target"})
    project_target = server.post("/api/v1/projects/alpha/api-keys",
                                 json={"name": "matrix-target", "role": "viewer"})
    assert platform_target.status_code == 201 and project_target.status_code == 201
    return {"keys": keys, "platform_key_id": platform_target.json()["id"],
            "project_key_id": project_target.json()["id"]}


def concrete_path(route_path: str, world: dict) -> str:
    key_id = world["project_key_id"] if "{project}" in route_path else world["platform_key_id"]
    return (route_path.replace("{project}", "alpha").replace("{key}", key_id)
            .replace("{subject}", "user:matrix").replace("{region}", "eu-west")
            .replace("{model}", "matrix-model").replace("{version}", "1")
            .replace("{path}", "model.json").replace("{alias}", "champion")
            .replace("{endpoint}", "matrix-endpoint").replace("{source}", "matrix-source")
            .replace("{dataset}", "matrix-dataset").replace("{kind}", "entity")
            .replace("{name}", "matrix-entity").replace("{run}", "0" * 32)
            .replace("{path+}", "matrix/file.txt").replace("{model_id}", "m-" + "0" * 32)
            .replace("{tag_key}", "matrix-tag"))


@pytest.mark.parametrize("route", sorted(MATRIX["routes"]))
def test_route_allows_exactly_the_matrix(server, world, route):
    method, path = route.split(" ", 1)
    allowed = allowed_callers(route)
    unexpected = []
    for caller in MATRIX["callers"]:
        auth = False if caller == "anonymous" else f"Bearer {world['keys'][caller]}"
        # An empty JSON object never creates anything: allowed callers get 400 for the missing
        # fields, refused ones 401/403, so the matrix leaves the world as it found it.
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        response = server.request(method, concrete_path(path, world), auth=auth, **kwargs)
        refused = response.status_code in (401, 403)
        if caller in allowed and refused:
            unexpected.append(f"{caller} refused with {response.status_code}: {response.text}")
        if caller not in allowed:
            expected = 401 if caller == "anonymous" else 403
            if response.status_code != expected:
                unexpected.append(f"{caller} got {response.status_code}, expected {expected}")
    assert not unexpected, f"{route}:\n" + "\n".join(unexpected)


def test_outsider_sees_only_its_own_project(server, world):
    listed = server.get("/api/v1/projects", auth=f"Bearer {world['keys']['outsider']}")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["projects"]] == ["beta"]


def test_refusals_do_not_reveal_whether_a_project_exists(server, world):
    viewer = f"Bearer {world['keys']['viewer']}"
    missing = server.get("/api/v1/projects/no-such-project", auth=viewer)
    other = server.get("/api/v1/projects/beta", auth=viewer)
    assert missing.status_code == other.status_code == 403
    assert server.get("/api/v1/projects/no-such-project").status_code == 404
