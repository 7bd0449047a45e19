"""Traffic policies on endpoints against a real server: named arms, sticky assignment by a unit
key (checked against an independent Python GrowthBook hash v2 and a chi-square test, and stable
across a restart), every answer naming its arm over HTTP and gRPC, shadow traffic, canary ramps
that promote or roll back on a guardrail breach (audited), manual promote and rollback, and bad
policies, concurrent updates and hostile unit keys; and the per-arm Prometheus metrics, which
count what each arm answered and follow a promotion."""

from __future__ import annotations

import concurrent.futures
import threading

import grpc
import pytest
from scipy import stats

from conftest import metric_value, parse_metrics, unique_name, wait_until
from serving_helpers import compile_grpc_stubs, linear_artifact, register_version, tensor

ROW = [1.0, 2.0]
V1 = ([0.5, -0.25], 0.1)
V2 = ([-1.0, 0.75], -0.2)
NARROW = ([1.0, 1.0, 1.0], 0.0)  # takes three features: every two-feature request fails on it
DEADLINE = 60.0


# ----- an independent GrowthBook hash v2 -----------------------------------------------------

def fnv1a32(text: str) -> int:
    """FNV-1a over UTF-16 code units, as JavaScript's charCodeAt walks a string."""
    value = 0x811C9DC5
    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        value ^= data[i] | (data[i + 1] << 8)
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def hash_v2(seed: str, unit: str) -> float:
    return (fnv1a32(str(fnv1a32(seed + unit))) % 10000) / 10000


def expected_arm(salt: str, unit: str, arms: list[tuple[str, float]]) -> str:
    bucket = hash_v2(salt, unit)
    total = sum(weight for _, weight in arms)
    start = 0.0
    for name, weight in arms:
        end = start + weight / total
        if start <= bucket < end:
            return name
        start = end
    return arms[-1][0]


# ----- fixtures and helpers --------------------------------------------------------------------

def setup_project(server, project: str) -> None:
    assert server.create_project(project, region="uae-north").status_code == 201
    assert register_version(server, project, "m", linear_artifact(*V1), "linear") == 1
    assert register_version(server, project, "m", linear_artifact(*V2), "linear") == 2
    assert register_version(server, project, "narrow", linear_artifact(*NARROW), "linear") == 1


@pytest.fixture(scope="module")
def project(server):
    name = unique_name("traffic")
    setup_project(server, name)
    return name


def endpoints_path(project: str) -> str:
    return f"/api/v1/projects/{project}/endpoints"


def create(server, project, body):
    return server.post(endpoints_path(project), json=body)


def infer(server, project, endpoint, unit=None, key="user_id"):
    body = tensor([ROW])
    if unit is not None:
        body["parameters"] = {key: unit}
    return server.post(f"/v2/models/{project}.{endpoint}/infer", json=body)


def traffic(server, project, endpoint):
    answer = server.get(f"{endpoints_path(project)}/{endpoint}/traffic")
    assert answer.status_code == 200, answer.text
    return answer.json()


def arm_stats(server, project, endpoint, arm):
    return next(item for item in traffic(server, project, endpoint)["arms"] if item["arm"] == arm)


def two_arms(name, weights=(1, 3), **traffic_policy):
    body = {"name": name, "targets": [
        {"name": "champion", "model": "m", "version": 1, "weight": weights[0]},
        {"name": "challenger", "model": "m", "version": 2, "weight": weights[1]}]}
    if traffic_policy:
        body["traffic"] = traffic_policy
    return body


# ----- arms and answers ----------------------------------------------------------------------

def test_arms_get_default_names_and_every_answer_names_its_arm(server, project):
    created = create(server, project, {"name": "named", "targets": [
        {"model": "m", "version": 1}, {"model": "m", "version": 2, "weight": 0}]})
    assert created.status_code == 201, created.text
    assert [t["name"] for t in created.json()["targets"]] == ["m:v1", "m:v2"]
    assert len(created.json()["traffic"]["salt"]) == 16
    answer = infer(server, project, "named")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == "1"
    assert body["parameters"] == {"served_model": "m", "endpoint": "named", "arm": "m:v1"}
    assert answer.headers["X-Falaj-Arm"] == "m:v1"


def test_sticky_assignment_matches_growthbook_and_splits_by_weight(server, project):
    created = create(server, project, two_arms("sticky", assignment={"unit_key": "user_id"}))
    assert created.status_code == 201, created.text
    salt = created.json()["traffic"]["salt"]
    arms = [("champion", 1), ("challenger", 3)]
    counts = {"champion": 0, "challenger": 0}
    units = [f"user-{i}" for i in range(2000)]
    for unit in units:
        answer = infer(server, project, "sticky", unit)
        assert answer.status_code == 200, answer.text
        arm = answer.json()["parameters"]["arm"]
        assert arm == expected_arm(salt, unit, arms), unit
        counts[arm] += 1
    # The same unit keeps its arm on every request.
    for unit in units[:50]:
        assert infer(server, project, "sticky", unit).headers["X-Falaj-Arm"] == \
            expected_arm(salt, unit, arms)
    observed = [counts["champion"], counts["challenger"]]
    _, p_value = stats.chisquare(observed, [500, 1500])
    assert p_value > 0.001, (observed, p_value)


def test_hostile_unit_keys_are_hashed_safely_or_refused(server, project):
    created = create(server, project, two_arms("hostile", assignment={"unit_key": "user_id"}))
    salt = created.json()["traffic"]["salt"]
    arms = [("champion", 1), ("challenger", 3)]
    for unit in ["ümlaut-ユーザー", "emoji-😀", "ctl-\u0001\u001f\t\n", "quote\"back\\slash",
                 "x" * 256]:
        answer = infer(server, project, "hostile", unit)
        assert answer.status_code == 200, answer.text
        assert answer.json()["parameters"]["arm"] == expected_arm(salt, unit, arms), repr(unit)
    huge = infer(server, project, "hostile", "x" * 100_000)
    assert huge.status_code == 400 and "at most 256" in huge.json()["error"]
    # An integer unit hashes as its decimal text; other types fall back to random choice.
    assert infer(server, project, "hostile", 12345).headers["X-Falaj-Arm"] == \
        expected_arm(salt, "12345", arms)
    assert infer(server, project, "hostile", True).status_code == 200
    too_many = tensor([ROW])
    too_many["parameters"] = {f"p{i}": "v" for i in range(100)}
    refused = server.post(f"/v2/models/{project}.hostile/infer", json=too_many)
    assert refused.status_code == 400 and "parameters" in refused.json()["error"]


def test_a_required_unit_key_refuses_requests_without_it(server, project):
    created = create(server, project, two_arms(
        "required", assignment={"unit_key": "account", "required": True}))
    assert created.status_code == 201, created.text
    missing = infer(server, project, "required")
    assert missing.status_code == 400 and "'account'" in missing.json()["error"]
    assert infer(server, project, "required", "", key="account").status_code == 400
    assert infer(server, project, "required", "acct-1", key="account").status_code == 200


def test_the_same_unit_keeps_its_arm_across_a_restart(make_server):
    server = make_server("restart").start()
    project = unique_name("restart")
    setup_project(server, project)
    created = create(server, project, two_arms("keep", weights=(1, 1),
                                               assignment={"unit_key": "user_id"}))
    assert created.status_code == 201, created.text
    units = [f"u{i}" for i in range(100)]
    before = {unit: infer(server, project, "keep", unit).headers["X-Falaj-Arm"] for unit in units}
    assert set(before.values()) == {"champion", "challenger"}
    server.stop()
    server.start()
    after = {unit: infer(server, project, "keep", unit).headers["X-Falaj-Arm"] for unit in units}
    assert after == before
    server.stop()


def test_grpc_answers_name_the_arm_and_read_the_unit_from_parameters(server, project,
                                                                    tmp_path_factory):
    messages, services = compile_grpc_stubs(tmp_path_factory.mktemp("traffic_grpc"))
    created = create(server, project, two_arms("grpc", assignment={"unit_key": "user_id"}))
    salt = created.json()["traffic"]["salt"]
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = services.GRPCInferenceServiceStub(channel)
        for unit in ["alice", "bob", "carol", "dave", "eve"]:
            request = messages.ModelInferRequest(model_name=f"{project}.grpc")
            tensor_in = request.inputs.add(name="x", datatype="FP32", shape=[1, 2])
            tensor_in.contents.fp32_contents.extend(ROW)
            request.parameters["user_id"].string_param = unit
            response = stub.ModelInfer(request, metadata=[("authorization",
                                                           f"Bearer {server.key}")], timeout=30)
            arm = expected_arm(salt, unit, [("champion", 1), ("challenger", 3)])
            assert response.parameters["arm"].string_param == arm
            assert response.parameters["endpoint"].string_param == "grpc"
            assert response.model_version == ("1" if arm == "champion" else "2")


# ----- shadow ----------------------------------------------------------------------------------

def test_shadow_arms_see_traffic_the_client_never_sees(server, project):
    created = create(server, project, {"name": "shadowed", "targets": [
        {"name": "live", "model": "m", "version": 1, "weight": 1},
        {"name": "dark", "model": "m", "version": 2, "weight": 0}],
        "traffic": {"shadow": [{"arm": "dark", "percent": 100}]}})
    assert created.status_code == 201, created.text
    for _ in range(30):
        answer = infer(server, project, "shadowed")
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == "1"
        assert answer.headers["X-Falaj-Arm"] == "live"
    wait_until(lambda: arm_stats(server, project, "shadowed", "dark")["shadow_requests"]
               + arm_stats(server, project, "shadowed", "dark")["shadow_dropped"] >= 30,
               DEADLINE, message="shadow calls to be counted")
    dark = arm_stats(server, project, "shadowed", "dark")
    assert dark["requests"] == 0 and dark["shadow_errors"] == 0
    assert dark["shadow_requests"] > 0
    assert arm_stats(server, project, "shadowed", "live")["requests"] == 30


# ----- canary ----------------------------------------------------------------------------------

class Load:
    """Sends requests to an endpoint from a background thread until stopped."""

    def __init__(self, server, project, endpoint):
        self.stop = threading.Event()
        self.statuses: dict[int, int] = {}
        self.thread = threading.Thread(target=self.run, args=(server, project, endpoint),
                                       daemon=True)

    def run(self, server, project, endpoint):
        i = 0
        while not self.stop.is_set():
            status = infer(server, project, endpoint, f"unit-{i}").status_code
            self.statuses[status] = self.statuses.get(status, 0) + 1
            i += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=DEADLINE)


def canary_state(server, project, endpoint):
    return traffic(server, project, endpoint)["policy"]["canary_state"]


def audit_records(server, project, endpoint):
    prefix = f"{endpoints_path(project)}/{endpoint}/traffic"
    return server.get("/api/v1/audit", params={"resource_prefix": prefix}).json()["records"]


def test_a_canary_ramps_through_its_steps_and_promotes(server, project):
    created = create(server, project, two_arms("ramp", weights=(1, 0), assignment={
        "unit_key": "user_id"}, canary={
        "arm": "challenger", "baseline": "champion", "steps": [10, 50, 100], "step_seconds": 1,
        "guardrails": {"max_error_rate": 0.5, "min_requests": 3}}))
    assert created.status_code == 201, created.text
    assert canary_state(server, project, "ramp")["status"] == "ramping"
    weights = {arm["arm"]: arm["weight"] for arm in traffic(server, project, "ramp")["arms"]}
    assert weights == {"champion": 9000, "challenger": 1000}
    seen_steps = set()
    with Load(server, project, "ramp"):
        def promoted():
            state = canary_state(server, project, "ramp")
            seen_steps.add(state["step"])
            return state["status"] == "promoted"
        wait_until(promoted, DEADLINE, interval=0.05, message="the canary to promote")
    state = canary_state(server, project, "ramp")
    assert "promoted after 3 steps" in state["reason"]
    assert seen_steps >= {0, 2}
    weights = {arm["arm"]: arm["weight"] for arm in traffic(server, project, "ramp")["arms"]}
    assert weights == {"champion": 0, "challenger": 1}
    assert infer(server, project, "ramp", "anyone").headers["X-Falaj-Arm"] == "challenger"
    # The decision is audited right after it is stored.
    wait_until(lambda: any(r["principal"] == "system:canary-controller"
                           and r["resource"].endswith("/promote")
                           for r in audit_records(server, project, "ramp")),
               DEADLINE, message="the controller's audit record")


def test_a_guardrail_breach_rolls_back_at_once_and_is_audited(server, project):
    created = create(server, project, {"name": "breach", "targets": [
        {"name": "champion", "model": "m", "version": 1, "weight": 1},
        {"name": "challenger", "model": "narrow", "version": 1, "weight": 0}],
        "traffic": {"canary": {"arm": "challenger", "baseline": "champion",
                               "steps": [50, 100], "step_seconds": 3600,
                               "guardrails": {"max_error_rate": 0.01, "min_requests": 3}}}})
    assert created.status_code == 201, created.text
    with Load(server, project, "breach") as load:
        wait_until(lambda: canary_state(server, project, "breach")["status"] == "rolled_back",
                   DEADLINE, interval=0.05, message="the canary to roll back")
    assert load.statuses.get(400, 0) >= 3  # the challenger's failed answers
    state = canary_state(server, project, "breach")
    assert "error rate" in state["reason"] and "max_error_rate 0.01" in state["reason"]
    view = traffic(server, project, "breach")
    assert {arm["arm"]: arm["weight"] for arm in view["arms"]} == {"champion": 1,
                                                                    "challenger": 0}
    challenger = next(arm for arm in view["arms"] if arm["arm"] == "challenger")
    assert challenger["errors"] >= 3
    for _ in range(20):
        assert infer(server, project, "breach").headers["X-Falaj-Arm"] == "champion"
    # The decision is audited right after it is stored.
    wait_until(lambda: any(r["principal"] == "system:canary-controller"
                           and r["resource"].endswith("/rollback")
                           for r in audit_records(server, project, "breach")),
               DEADLINE, message="the controller's audit record")


def test_manual_promote_and_rollback_are_audited(server, project):
    created = create(server, project, two_arms("manual", canary={
        "arm": "challenger", "baseline": "champion", "steps": [5, 100], "step_seconds": 3600}))
    assert created.status_code == 201, created.text
    base = f"{endpoints_path(project)}/manual/traffic"
    rolled = server.post(f"{base}/rollback", json={})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["policy"]["canary_state"]["status"] == "rolled_back"
    assert {a["arm"]: a["weight"] for a in rolled.json()["arms"]} == {"champion": 1,
                                                                      "challenger": 0}
    no_arm = server.post(f"{base}/rollback", json={})
    assert no_arm.status_code == 400 and "'arm'" in no_arm.json()["error"]["message"]
    unknown = server.post(f"{base}/promote", json={"arm": "nobody"})
    assert unknown.status_code == 404 and "no arm 'nobody'" in unknown.json()["error"]["message"]
    extra = server.post(f"{base}/promote", json={"arm": "challenger", "force": True})
    assert extra.status_code == 400 and "force" in extra.json()["error"]["message"]
    promoted = server.post(f"{base}/promote", json={"arm": "challenger"})
    assert promoted.status_code == 200, promoted.text
    assert infer(server, project, "manual").headers["X-Falaj-Arm"] == "challenger"
    actions = [r["resource"].rsplit("/", 1)[-1] for r in audit_records(server, project, "manual")]
    assert actions.count("rollback") >= 1 and actions.count("promote") >= 1


# ----- bad input -------------------------------------------------------------------------------

CANARY = {"arm": "challenger", "baseline": "champion", "steps": [10, 100]}


@pytest.mark.parametrize("change, message", [
    ({"targets": [{"name": "a", "model": "m", "version": 1, "weight": -1}]}, "'weight'"),
    ({"targets": [{"name": "a", "model": "m", "version": 1},
                  {"name": "a", "model": "m", "version": 2}]}, "arm 'a'"),
    ({"targets": [{"model": "m", "version": 1}, {"model": "m", "version": 1}]}, "distinct"),
    ({"targets": [{"name": "bad name!", "model": "m", "version": 1}]}, "arm name"),
    ({"targets": [{"name": "x" * 200, "model": "m", "version": 1}]}, "arm name"),
    ({"traffic": {"shadow": [{"arm": "ghost"}]}}, "shadow arm 'ghost'"),
    ({"traffic": {"shadow": [{"arm": "challenger", "percent": 101}]}}, "between 0 and 100"),
    ({"traffic": {"shadow": [{"arm": "challenger", "percent": -1}]}}, "between 0 and 100"),
    ({"traffic": {"shadow": [{"arm": "challenger"}, {"arm": "challenger"}]}}, "twice"),
    ({"traffic": {"shadow": [{"arm": "challenger"}] * 5}}, "at most 4"),
    ({"traffic": {"canary": {**CANARY, "arm": "ghost"}}}, "canary arm 'ghost'"),
    ({"traffic": {"canary": {**CANARY, "baseline": "challenger"}}}, "must differ"),
    ({"traffic": {"canary": {**CANARY, "steps": [50, 10, 100]}}}, "strictly increasing"),
    ({"traffic": {"canary": {**CANARY, "steps": [10, 50]}}}, "must be 100"),
    ({"traffic": {"canary": {**CANARY, "steps": [0, 100]}}}, "(0, 100]"),
    ({"traffic": {"canary": {**CANARY, "steps": list(range(1, 101))}}}, "1 to 20"),
    ({"traffic": {"canary": {**CANARY, "step_seconds": 0}}}, "'step_seconds'"),
    ({"traffic": {"canary": {**CANARY, "guardrails": {"max_error_rate": 2}}}}, "[0, 1]"),
    ({"traffic": {"canary": {**CANARY, "guardrails": {"p95": 1}}}}, "p95"),
    ({"traffic": {"canary": {**CANARY, "guardrails": {"monitored": [{"name": "x"}]}}}},
     "needs 'max'"),
    ({"traffic": {"assignment": {"unit_key": "user id"}}}, "'unit_key'"),
    ({"traffic": {"assignment": {"unit_key": "u" * 65}}}, "'unit_key'"),
    ({"traffic": {"assignment": {}}}, "unit_key"),
    ({"traffic": {"salt": "mine"}}, "salt"),
    ({"traffic": {"canary_state": {"status": "promoted"}}}, "canary_state"),
    ({"traffic": {"sticky": True}}, "sticky"),
    ({"traffic": []}, "'traffic' must be an object"),
])
def test_malformed_policies_are_refused_with_a_clear_error(server, project, change, message):
    body = {**two_arms(unique_name("bad")), **change}
    answer = create(server, project, body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]["message"], answer.json()


def test_concurrent_updates_and_decisions_leave_a_valid_endpoint(server, project):
    assert create(server, project, two_arms("busy")).status_code == 201
    path = f"{endpoints_path(project)}/busy"

    def update(i):
        if i % 3 == 0:
            arm = "champion" if i % 2 else "challenger"
            return server.post(f"{path}/traffic/promote", json={"arm": arm}).status_code
        body = two_arms("busy", weights=(i % 5 + 1, 1),
                        shadow=[{"arm": "challenger", "percent": i % 100}])
        return server.request("PUT", path, json=body).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(update, range(60)))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 30
    final = server.get(path)
    assert final.status_code == 200
    assert [t["name"] for t in final.json()["targets"]] == ["champion", "challenger"]
    assert infer(server, project, "busy").status_code == 200


def test_updates_keep_the_salt_and_a_running_canary(server, project):
    body = two_arms("keeper", assignment={"unit_key": "user_id"}, canary={
        "arm": "challenger", "baseline": "champion", "steps": [20, 100], "step_seconds": 3600})
    created = create(server, project, body)
    assert created.status_code == 201, created.text
    salt = created.json()["traffic"]["salt"]
    started = created.json()["traffic"]["canary_state"]["step_started_ms"]
    body["description"] = "edited"
    updated = server.request("PUT", f"{endpoints_path(project)}/keeper", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["traffic"]["salt"] == salt
    assert updated.json()["traffic"]["canary_state"]["step_started_ms"] == started


# ----- Prometheus metrics per arm --------------------------------------------------------------

def arm_metrics(server, project, endpoint):
    """(samples, labels of an arm) from /metrics, for the falaj_endpoint_arm_* families."""
    samples = parse_metrics(server.metrics_text())
    return samples, lambda arm: {"project": project, "endpoint": endpoint, "arm": arm}


def test_arm_metrics_count_what_each_arm_answered_and_follow_a_promotion(server, project):
    created = create(server, project, two_arms(
        "armmetrics", assignment={"unit_key": "user_id"},
        canary={"arm": "challenger", "baseline": "champion", "steps": [50, 100],
                "step_seconds": 3600}))
    assert created.status_code == 201, created.text
    samples, arm = arm_metrics(server, project, "armmetrics")
    step_labels = {"project": project, "endpoint": "armmetrics"}
    assert metric_value(samples, "falaj_endpoint_canary_step", **step_labels) == 1
    for item in traffic(server, project, "armmetrics")["arms"]:
        assert metric_value(samples, "falaj_endpoint_arm_weight", **arm(item["arm"])) == \
            item["weight"], item

    answered = {"champion": 0, "challenger": 0}
    for i in range(300):
        answer = infer(server, project, "armmetrics", f"metrics-user-{i}")
        assert answer.status_code == 200, answer.text
        answered[answer.headers["X-Falaj-Arm"]] += 1
    assert min(answered.values()) > 0, answered
    samples, arm = arm_metrics(server, project, "armmetrics")
    for name, count in answered.items():
        assert metric_value(samples, "falaj_endpoint_arm_requests_total", **arm(name)) == count
        assert metric_value(samples, "falaj_endpoint_arm_errors_total", **arm(name)) == 0
        assert metric_value(samples, "falaj_endpoint_arm_request_duration_seconds_count",
                            **arm(name)) == count
        assert metric_value(samples, "falaj_endpoint_arm_request_duration_seconds_bucket",
                            **arm(name), le="+Inf") == count

    promoted = server.post(f"{endpoints_path(project)}/armmetrics/traffic/promote",
                           json={"arm": "challenger"})
    assert promoted.status_code == 200, promoted.text
    samples, arm = arm_metrics(server, project, "armmetrics")
    assert metric_value(samples, "falaj_endpoint_arm_weight", **arm("challenger")) == 1
    assert ("falaj_endpoint_arm_weight", frozenset(arm("champion").items())) in samples
    assert metric_value(samples, "falaj_endpoint_arm_weight", **arm("champion")) == 0
    assert metric_value(samples, "falaj_endpoint_canary_step", **step_labels) == 0
