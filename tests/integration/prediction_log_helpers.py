"""Helpers the prediction log and outcome tests share: a project with a linear model behind an
endpoint, KServe v2 calls with a request id, and reading logged predictions back."""

from __future__ import annotations

from conftest import wait_until
from serving_helpers import linear_artifact, register_version, tensor

COEFFICIENTS = ([0.5, -0.25, 1.5], 0.1)


def serve_endpoint(server, project: str, endpoint: str = "e") -> None:
    """A project whose endpoint `endpoint` serves version 1 of a linear model "m"."""
    assert server.create_project(project).status_code == 201
    assert register_version(server, project, "m", linear_artifact(*COEFFICIENTS), "linear") == 1
    created = server.post(f"/api/v1/projects/{project}/endpoints",
                          json={"name": endpoint, "targets": [{"model": "m", "version": 1}]})
    assert created.status_code == 201, created.text


def infer(server, project: str, rows, request_id: str, endpoint: str = "e"):
    body = tensor(rows)
    body["id"] = request_id
    response = server.post(f"/v2/models/{project}.{endpoint}/infer", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def predictions(server, project: str, endpoint: str = "e", **params) -> list:
    """Every logged prediction of the endpoint matching `params`, following the pages."""
    path = f"/api/v1/projects/{project}/endpoints/{endpoint}/predictions"
    items, token = [], None
    while True:
        query = dict(params, limit=1000)
        if token:
            query["page_token"] = token
        page = server.get(path, params=query)
        assert page.status_code == 200, page.text
        items += page.json()["predictions"]
        token = page.json()["next_page_token"]
        if not token:
            return items


def wait_logged(server, project: str, count: int, endpoint: str = "e", timeout: float = 10):
    """The endpoint's logged predictions once there are at least `count`."""
    found = {}

    def enough():
        found["items"] = predictions(server, project, endpoint)
        return len(found["items"]) >= count

    wait_until(enough, timeout)
    return found["items"]


def serve_logged(server, project: str, count: int, prefix: str = "r") -> list:
    """serve_endpoint, then `count` single-row predictions with request ids "<prefix>-<i>",
    returned once logged."""
    serve_endpoint(server, project)
    for i in range(count):
        infer(server, project, [[float(i), 1.0, 2.0]], f"{prefix}-{i}")
    return wait_logged(server, project, count)
