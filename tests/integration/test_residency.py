"""Data residency against a real server: projects outside the storage region are refused,
cross-region transfers are denied unless a policy records a legal basis, restricted classes never
leave, and every decision lands in the audit trail."""

from __future__ import annotations

import pytest

from conftest import assert_error_shape


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
