"""The serving acceptance check: an XGBoost classifier trained with the current XGBoost from PyPI
on scikit-learn's breast-cancer data, registered as JSON and as UBJ, answers over HTTP exactly
what XGBoost's own predict gives on the same rows (1e-6), with both the compiled `trees` runtime
and the library `xgboost` runtime."""

from __future__ import annotations

import numpy as np
import pytest

from serving_helpers import binary_request, make_xgboost_models, register_version, split_binary_response

PROJECT = "cancer"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_xgboost_models(tmp_path_factory.mktemp("xgboost-models"))


@pytest.fixture(scope="module")
def served(server, models):
    assert server.post("/api/v1/projects",
                       json={"name": PROJECT, "region": "uae-north"}).status_code == 201
    register_version(server, PROJECT, "clf", (models / "cancer.json").read_bytes(), "xgboost")
    register_version(server, PROJECT, "clf", (models / "cancer.ubj").read_bytes(), "xgboost",
                     path="model.ubj")
    for runtime in ("trees", "xgboost"):
        for version in (1, 2):
            response = server.post(f"/api/v1/projects/{PROJECT}/endpoints", json={
                "name": f"{runtime}-v{version}", "runtime": runtime,
                "targets": [{"model": "clf", "version": version}]})
            assert response.status_code == 201, response.text
    return server


@pytest.mark.parametrize("endpoint", ["trees-v1", "trees-v2", "xgboost-v1", "xgboost-v2"])
def test_predictions_equal_xgboost_predict_on_every_row(served, models, endpoint):
    rows = np.load(models / "cancer.rows.npy")
    expected = np.load(models / "cancer.expected.npy")
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": list(rows.shape),
                        "data": rows.ravel().tolist()}]}
    response = served.post(f"/v2/models/{PROJECT}.{endpoint}/infer", json=body)
    assert response.status_code == 200, response.text
    got = np.array(response.json()["outputs"][0]["data"], dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    status = served.get(f"/api/v1/projects/{PROJECT}/endpoints/{endpoint}/status").json()
    assert status["targets"][0]["runtime"] == endpoint.split("-")[0]


def test_single_rows_and_binary_rows_agree_with_xgboost(served, models):
    rows = np.load(models / "cancer.rows.npy")
    expected = np.load(models / "cancer.expected.npy")
    for index in (0, 100, 568):
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 30],
                            "data": rows[index].tolist()}]}
        answer = served.post(f"/v2/models/{PROJECT}.clf/infer", json=body).json()
        assert answer["outputs"][0]["data"][0] == pytest.approx(float(expected[index]), abs=1e-6)
    body, headers = binary_request([("x", "FP32", rows)])
    response = served.post(f"/v2/models/{PROJECT}.trees-v2/infer", data=body, headers=headers)
    header, raw = split_binary_response(response)
    np.testing.assert_allclose(np.frombuffer(raw, "<f4"), expected, atol=1e-6, rtol=0)


def test_missing_values_follow_the_trees_default_branches(served, models):
    rows = np.load(models / "cancer.rows.npy")[:8].copy()
    rows[:, ::3] = np.nan
    import xgboost
    booster = xgboost.Booster(model_file=str(models / "cancer.json"))
    expected = booster.inplace_predict(rows)
    body, headers = binary_request([("x", "FP32", rows)])
    for endpoint in ("trees-v1", "xgboost-v1"):
        response = served.post(f"/v2/models/{PROJECT}.{endpoint}/infer", data=body,
                               headers=headers)
        assert response.status_code == 200, response.text
        header, raw = split_binary_response(response)
        np.testing.assert_allclose(np.frombuffer(raw, "<f4"), expected, atol=1e-6, rtol=0)


def test_a_wrong_feature_count_is_refused_and_others_keep_serving(served):
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 29], "data": [0.0] * 29}]}
    refused = served.post(f"/v2/models/{PROJECT}.trees-v1/infer", json=body)
    assert refused.status_code == 400 and "[rows, 30]" in refused.json()["error"]
    body["inputs"][0].update(shape=[1, 30], data=[0.0] * 30)
    assert served.post(f"/v2/models/{PROJECT}.trees-v1/infer", json=body).status_code == 200
