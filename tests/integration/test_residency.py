"""Data residency against a real server: projects outside the storage region are refused,
cross-region transfers are denied unless a policy records a legal basis, restricted classes never
leave, and every decision lands in the audit trail."""

from __future__ import annotations

import pytest

from conftest import assert_error_shape, wait_until


@pytest.fixture(scope="module")
def uae_server(tmp_path_factory):
    from conftest import FalajServer
    server = FalajServer(tmp_path_factory.mktemp("residency"),
                         env={"FALAJ_STORAGE_REGION": "uae-north"}).start()
    assert server.post("/api/v1/projects",
                       json={"name": "clinic", "region": "uae-north"}).status_code == 201
    yield server
    server.stop_and_check()


def check(server, **body):
    return server.post("/api/v1/projects/clinic/transfer-checks", json=body)


def test_project_outside_the_storage_region_is_refused(uae_server):
    refused = uae_server.post("/api/v1/projects", json={"name": "paris", "region": "eu-west"})
    error = assert_error_shape(refused, 409, "FAILED_PRECONDITION")
    assert "storage region 'uae-north'" in error["message"]
    assert uae_server.get("/api/v1/projects/paris").status_code == 404


def test_transfers_need_a_policy_and_restricted_classes_never_leave(uae_server):
    assert check(uae_server, to_region="uae-north", data_class="health").status_code == 200
    denied = check(uae_server, to_region="eu-west", data_class="pii")
    assert "no transfer policy" in assert_error_shape(denied, 403, "PERMISSION_DENIED")["message"]

    policy = uae_server.request("PUT", "/api/v1/projects/clinic/transfer-policies/eu-west",
                                json={"legal_basis": "pdpl-art23-consent",
                                      "data_classes": ["pii", "health"]})
    assert policy.status_code == 200, policy.text
    allowed = check(uae_server, to_region="eu-west", data_class="pii")
    assert allowed.status_code == 200
    assert allowed.json()["legal_basis"] == "pdpl-art23-consent"

    assert uae_server.request("PUT", "/api/v1/projects/clinic/restricted-classes",
                              json={"classes": ["health"]}).status_code == 200
    health = check(uae_server, to_region="eu-west", data_class="health")
    assert "may not leave" in assert_error_shape(health, 403, "PERMISSION_DENIED")["message"]

    records = uae_server.get("/api/v1/audit?resource_prefix=/api/v1/projects/clinic/transfer-checks"
                             "&limit=100").json()["records"]
    outcomes = {(r["request_id"], r["outcome"]) for r in records}
    for response, outcome in ((denied, "denied"), (allowed, "allowed"), (health, "denied")):
        assert (response.headers["X-Request-Id"], outcome) in outcomes


def test_bad_policies_are_refused_with_a_reason(uae_server):
    base = "/api/v1/projects/clinic/transfer-policies"
    for region, body, needle in (
            ("eu-west", {"legal_basis": "because-we-want"}, "legal basis"),
            ("uae-north", {"legal_basis": "regulator-approval"}, "other than the project's"),
            ("eu-west", {"legal_basis": "regulator-approval", "data_classes": ["secret"]},
             "data class"),
            ("eu-west", {"legal_basis": "regulator-approval", "extra": 1}, "unknown field"),
            ("eu-west", {"legal_basis": 7}, "must be a string")):
        response = uae_server.request("PUT", f"{base}/{region}", json=body)
        assert needle in assert_error_shape(response, 400, "INVALID_ARGUMENT")["message"]
    assert uae_server.delete(f"{base}/mars").status_code == 404


def test_a_project_with_policies_cannot_be_deleted(uae_server):
    refused = uae_server.delete("/api/v1/projects/clinic")
    assert "transfer policies" in assert_error_shape(refused, 409, "FAILED_PRECONDITION")["message"]


def test_model_downloads_to_another_region_need_a_policy_and_are_audited(uae_server):
    from serving_helpers import linear_artifact, register_version
    register_version(uae_server, "clinic", "triage", linear_artifact([1.0], 0.0), "linear")
    base = "/api/v1/projects/clinic/models/triage/versions/1/files/model.json"
    assert uae_server.get(base).status_code == 200
    assert uae_server.get(base + "?to_region=uae-north").status_code == 200
    denied = uae_server.get(base + "?to_region=us-east")
    assert "no transfer policy" in assert_error_shape(denied, 403, "PERMISSION_DENIED")["message"]
    records = uae_server.get("/api/v1/audit?resource_prefix=/api/v1/projects/clinic/models/triage"
                             "&limit=100").json()["records"]
    outcomes = {(r["request_id"], r["outcome"]) for r in records}
    assert (denied.headers["X-Request-Id"], "denied") in outcomes


@pytest.fixture(scope="module")
def foreign_node(tmp_path_factory):
    """Storage in the UAE, but this node (which would load the models) in eu-west."""
    from conftest import FalajServer
    server = FalajServer(tmp_path_factory.mktemp("residency-node"),
                         env={"FALAJ_STORAGE_REGION": "uae-north",
                              "FALAJ_SERVER_REGION": "eu-west"}).start()
    assert server.post("/api/v1/projects",
                       json={"name": "bank", "region": "uae-north"}).status_code == 201
    from serving_helpers import linear_artifact, register_version
    register_version(server, "bank", "score", linear_artifact([1.0], 0.0), "linear")
    yield server
    server.stop_and_check()


def endpoint_outcomes(server) -> set:
    records = server.get("/api/v1/audit?resource_prefix=/api/v1/projects/bank/endpoints"
                         "&limit=100").json()["records"]
    return {(r["request_id"], r["outcome"]) for r in records}


def test_deploying_on_a_node_of_another_region_needs_a_policy(foreign_node):
    base = "/api/v1/projects/bank/endpoints"
    body = {"name": "scoring", "targets": [{"model": "score", "version": 1}]}

    def infer(name):
        return foreign_node.post(f"/v2/models/bank.{name}/infer", json={"inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [2.0]}]})

    # Serving the model by name loads it on this node too: refused without a policy.
    refused = infer("score")
    assert refused.status_code == 403 and "'eu-west'" in refused.json()["error"], refused.text
    denied = foreign_node.post(base, json=body)
    message = assert_error_shape(denied, 403, "PERMISSION_DENIED")["message"]
    assert "'uae-north'" in message and "'eu-west'" in message
    assert foreign_node.get(f"{base}/scoring").status_code == 404

    policy = foreign_node.request("PUT", "/api/v1/projects/bank/transfer-policies/eu-west",
                                  json={"legal_basis": "pdpl-art22-adequacy"})
    assert policy.status_code == 200, policy.text
    created = foreign_node.post(base, json=body)
    assert created.status_code == 201, created.text
    basis = foreign_node.wait_for_log(
        lambda line: line.get("msg") == "cross-region deployment allowed"
        and line.get("request_id") == created.headers["X-Request-Id"])
    assert basis["legal_basis"] == "pdpl-art22-adequacy" and basis["to_region"] == "eu-west"

    served = infer("scoring")
    assert served.status_code == 200, served.text

    # Withdrawing the policy stops serving (once the remembered route expires, within a second)
    # and further changes (an update loads models too).
    assert foreign_node.delete("/api/v1/projects/bank/transfer-policies/eu-west").status_code == 204
    wait_until(lambda: infer("scoring").status_code == 403, 30.0,
               message="inference refused after the policy was withdrawn")
    updated = foreign_node.request("PUT", f"{base}/scoring",
                                   json={"targets": [{"model": "score", "version": 1}]})
    assert_error_shape(updated, 403, "PERMISSION_DENIED")

    outcomes = endpoint_outcomes(foreign_node)
    for response, outcome in ((denied, "denied"), (created, "allowed"), (updated, "denied")):
        assert (response.headers["X-Request-Id"], outcome) in outcomes


def test_deploying_in_the_projects_region_needs_no_policy(uae_server):
    from serving_helpers import linear_artifact, register_version
    register_version(uae_server, "clinic", "local", linear_artifact([1.0], 0.0), "linear")
    created = uae_server.post("/api/v1/projects/clinic/endpoints",
                              json={"name": "local", "targets": [{"model": "local", "version": 1}]})
    assert created.status_code == 201, created.text


def test_a_node_region_outside_the_known_regions_stops_start_up(tmp_path):
    from conftest import FalajServer
    server = FalajServer(tmp_path / "bad-node", env={"FALAJ_SERVER_REGION": "mars"})
    server.spawn()
    assert server.wait_exit() != 0
    assert "key 'server.region' ('mars') must be one of" in server.stderr() + server.stdout()
