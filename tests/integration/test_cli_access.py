"""The `falaj keys`, `falaj members` and `falaj audit` client commands against a real server,
checked through the REST API, and the offline `audit verify --data-dir` / `audit export`."""

import json
import re
import sqlite3

import pytest
import yaml

from conftest import cli, unique_name

KEY_PATTERN = re.compile(r"^flj_[0-9A-Za-z]{49}$")
KEY_FIELDS = {"id", "name", "subject", "platform_admin", "project", "created_by", "created_at",
              "expires_at", "last_used_at", "revoked_at"}
REPORT_FIELDS = {"ok", "entries", "last_seq", "head_hash", "checkpoints", "last_checkpoint_seq",
                 "unanchored", "first_bad_seq", "reason", "public_key"}
EXPORT_FIELDS = {"seq", "time_ms", "request_id", "principal", "action", "method", "resource",
                 "status", "source", "outcome", "prev_hash", "hash"}


def run(server, home, *args, key=None):
    """Runs a client command against `server` (as the bootstrap admin unless `key` is given)."""
    return cli([*args, "--url", server.url, "--key", key or server.key], home)


def run_json(server, home, *args, key=None):
    result = run(server, home, *args, "-o", "json", key=key)
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def new_project(server):
    name = unique_name("acc")
    assert server.create_project(name).status_code == 201
    return name


def admin_key_id(server):
    keys = server.get("/api/v1/api-keys").json()["api_keys"]
    return next(key["id"] for key in keys if key["name"] == "bootstrap-admin")


def authenticates(server, key):
    return server.get("/api/v1/projects", auth=f"Bearer {key}").status_code == 200


# ----- keys --------------------------------------------------------------------------------------

def test_platform_key_lifecycle(server, home):
    name = unique_name("svc")
    created = run_json(server, home, "keys", "create", name, "--expires-in", "3600")
    assert set(created) == KEY_FIELDS | {"key"}
    assert KEY_PATTERN.match(created["key"]), created["key"]
    assert created["name"] == name and created["project"] is None
    assert created["platform_admin"] is False and created["expires_at"] is not None
    key_id = created["id"]
    stored = server.get(f"/api/v1/api-keys/{key_id}")
    assert stored.status_code == 200
    assert stored.json() == {k: v for k, v in created.items() if k != "key"}
    # A platform key that is no admin authenticates but may not create projects.
    assert authenticates(server, created["key"])
    assert server.post("/api/v1/projects", auth=f"Bearer {created['key']}",
                       json={"name": unique_name("no"), "region": "eu-west"}).status_code == 403

    listed = run_json(server, home, "keys", "list")
    assert key_id in [key["id"] for key in listed]
    assert all("key" not in key for key in listed)
    got = run_json(server, home, "keys", "get", key_id)
    assert got["id"] == key_id and "key" not in got

    rotated = run_json(server, home, "keys", "rotate", key_id, "--overlap", "0")
    assert KEY_PATTERN.match(rotated["key"]) and rotated["id"] != key_id
    assert rotated["name"] == name
    assert authenticates(server, rotated["key"])
    assert not authenticates(server, created["key"]), "overlap 0 revokes the old key at once"
    assert server.get(f"/api/v1/api-keys/{key_id}").json()["revoked_at"] is not None

    revoked = run(server, home, "keys", "revoke", rotated["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert rotated["id"] in revoked.stdout
    assert server.get(f"/api/v1/api-keys/{rotated['id']}").json()["revoked_at"] is not None
    assert not authenticates(server, rotated["key"])


def test_rotation_keeps_the_old_key_for_the_overlap(server, home):
    created = run_json(server, home, "keys", "create", unique_name("ovl"))
    rotated = run_json(server, home, "keys", "rotate", created["id"], "--overlap", "600")
    assert authenticates(server, created["key"]) and authenticates(server, rotated["key"])
    default = run_json(server, home, "keys", "rotate", rotated["id"])
    assert authenticates(server, rotated["key"]) and authenticates(server, default["key"])


def test_platform_admin_key(server, home):
    created = run_json(server, home, "keys", "create", unique_name("adm"), "--platform-admin")
    assert created["platform_admin"] is True
    # It can do what only platform administrators can.
    listed = run_json(server, home, "keys", "list", key=created["key"])
    assert created["id"] in [key["id"] for key in listed]


def test_create_in_table_mode_prints_the_key_once(server, home):
    result = run(server, home, "keys", "create", unique_name("tbl"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    key_lines = [line for line in lines if line.startswith("key: ")]
    assert len(key_lines) == 1
    plaintext = key_lines[0][len("key: "):]
    assert KEY_PATTERN.match(plaintext)
    assert "will not be shown again" in result.stdout
    assert authenticates(server, plaintext)
    key_id = lines[1].split()[0]
    for output in ("table", "json", "yaml"):
        shown = run(server, home, "keys", "get", key_id, "-o", output)
        assert shown.returncode == 0 and key_id in shown.stdout
        assert plaintext not in shown.stdout and "flj_" not in shown.stdout


def test_yaml_output_of_a_new_key(server, home):
    result = run(server, home, "keys", "create", unique_name("yml"), "-o", "yaml")
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert KEY_PATTERN.match(document["key"]) and set(document) == KEY_FIELDS | {"key"}
    assert "will not be shown again" not in result.stdout


def test_project_key_has_exactly_its_role(server, home):
    project, other = new_project(server), new_project(server)
    created = run_json(server, home, "keys", "create", "reader", "--project", project,
                       "--role", "viewer")
    assert created["project"] == project and created["platform_admin"] is False
    viewer = f"Bearer {created['key']}"
    # The binding the server made is visible through the CLI and the API.
    members = run_json(server, home, "members", "list", project)
    assert {"subject": f"key:{created['id']}", "role": "viewer"} in \
        [{k: m[k] for k in ("subject", "role")} for m in members]

    assert server.get(f"/api/v1/projects/{project}", auth=viewer).status_code == 200
    assert server.patch(f"/api/v1/projects/{project}", auth=viewer,
                        json={"description": "no"}).status_code == 403
    assert server.get(f"/api/v1/projects/{other}", auth=viewer).status_code in (403, 404)
    # Through the CLI: reading works, administering is refused (exit 1, the server's 403).
    got = run_json(server, home, "projects", "get", project, key=created["key"])
    assert got["name"] == project
    refused = run(server, home, "members", "set", project, "user:mallory", "admin",
                  key=created["key"])
    assert refused.returncode == 1, refused.stderr
    assert "403" in refused.stderr and "PERMISSION_DENIED" in refused.stderr
    assert refused.stdout == ""

    listed = run_json(server, home, "keys", "list", "--project", project)
    assert [key["id"] for key in listed] == [created["id"]]
    assert server.get(f"/api/v1/projects/{project}/api-keys").json()["api_keys"] == listed
    got = run_json(server, home, "keys", "get", created["id"], "--project", project)
    assert got == listed[0]
    # The key belongs to its project: it is not found under another one.
    elsewhere = run(server, home, "keys", "get", created["id"], "--project", other)
    assert elsewhere.returncode == 1 and "404" in elsewhere.stderr

    rotated = run_json(server, home, "keys", "rotate", created["id"], "--project", project,
                       "--overlap", "0")
    assert rotated["project"] == project
    assert server.patch(f"/api/v1/projects/{project}", auth=f"Bearer {rotated['key']}",
                        json={"description": "no"}).status_code == 403
    assert server.get(f"/api/v1/projects/{project}",
                      auth=f"Bearer {rotated['key']}").status_code == 200
    revoked = run(server, home, "keys", "revoke", rotated["id"], "--project", project)
    assert revoked.returncode == 0, revoked.stderr
    assert server.get(f"/api/v1/projects/{project}/api-keys/{rotated['id']}") \
        .json()["revoked_at"] is not None
    assert server.get(f"/api/v1/projects/{project}",
                      auth=f"Bearer {rotated['key']}").status_code == 401


def test_project_admin_key_administers_only_its_project(server, home):
    project = new_project(server)
    admin = run_json(server, home, "keys", "create", "owner", "--project", project,
                     "--role", "admin")
    member = run_json(server, home, "members", "set", project, "user:ana", "developer",
                      key=admin["key"])
    assert member["subject"] == "user:ana" and member["role"] == "developer"
    refused = run(server, home, "keys", "list", key=admin["key"])
    assert refused.returncode == 1 and "403" in refused.stderr


# ----- members -----------------------------------------------------------------------------------

def test_members_set_list_remove(server, home):
    project = new_project(server)
    subjects = {"group:ml-team": "developer", "user:ana@example.com": "viewer",
                "user:bo": "auditor"}
    for subject, role in subjects.items():
        binding = run_json(server, home, "members", "set", project, subject, role)
        assert binding["subject"] == subject and binding["role"] == role
        assert binding["created_at"]
    stored = server.get(f"/api/v1/projects/{project}/members").json()["members"]
    assert {m["subject"]: m["role"] for m in stored} == subjects

    listed = run_json(server, home, "members", "list", project)
    assert listed == stored
    table = run(server, home, "members", "list", project)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["SUBJECT", "ROLE", "CREATED_AT"]
    assert ["group:ml-team", "developer"] in [line.split()[:2] for line in lines[1:]]

    # Setting again replaces the role.
    run_json(server, home, "members", "set", project, "group:ml-team", "deployer")
    roles = {m["subject"]: m["role"] for m in
             server.get(f"/api/v1/projects/{project}/members").json()["members"]}
    assert roles["group:ml-team"] == "deployer"

    removed = run(server, home, "members", "remove", project, "group:ml-team")
    assert removed.returncode == 0, removed.stderr
    assert "group:ml-team" in removed.stdout
    remaining = [m["subject"] for m in run_json(server, home, "members", "list", project)]
    assert sorted(remaining) == ["user:ana@example.com", "user:bo"]
    again = run(server, home, "members", "remove", project, "group:ml-team")
    assert again.returncode == 1 and "404" in again.stderr


def test_member_subjects_stay_one_path_segment(server, home):
    """'/' and dot segments in a subject cannot lead to another route: the CLI percent-encodes
    them, so the request lands on the members route, which answers for the subject itself."""
    project = new_project(server)
    for subject in ("user:a/b", "user:x/../../../../api-keys", "..", "."):
        result = run(server, home, "members", "remove", project, subject)
        assert result.returncode == 1, (subject, result.stdout)
        assert "404" in result.stderr and "no route" not in result.stderr, result.stderr


def test_member_subject_with_escaped_characters_round_trips(server, home):
    """The CLI percent-encodes path segments and the server decodes them: what is stored is
    exactly what was typed, and characters the server forbids are refused, not smuggled."""
    project = new_project(server)
    run_json(server, home, "members", "set", project, "group:50%+off#1?x", "viewer")
    stored = server.get(f"/api/v1/projects/{project}/members").json()["members"]
    assert [m["subject"] for m in stored] == ["group:50%+off#1?x"]
    for forbidden in ("user:a b", "user:a/b"):
        result = run(server, home, "members", "set", project, forbidden, "viewer")
        assert result.returncode == 1 and "400" in result.stderr, (forbidden, result.stderr)


@pytest.mark.parametrize("args, status", [
    (["members", "set", "{project}", "nobody", "viewer"], "400"),
    (["members", "list", "no-such-project-xyz"], "404"),
    (["keys", "get", "0000000000000000"], "404"),
    (["keys", "revoke", "0000000000000000"], "404"),
    (["keys", "rotate", "0000000000000000"], "404"),
    (["keys", "create", "x", "--expires-in", "999999999999"], "400"),
    (["keys", "create", "x" * 300], "400"),
    (["audit", "list", "--limit", "5000"], "400"),
])
def test_server_refusals_exit_1(server, home, args, status):
    project = new_project(server)
    result = run(server, home, *[a.replace("{project}", project) for a in args])
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("falaj: ")
    if status:
        assert status in result.stderr
    assert result.stdout == ""


# ----- usage errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("args, hint", [
    (["keys"], "subcommand"),
    (["keys", "create"], "name"),
    (["keys", "create", "x", "--project", "p"], "--role"),
    (["keys", "create", "x", "--role", "viewer"], "--project"),
    (["keys", "create", "x", "--project", "p", "--role", "boss"], "viewer"),
    (["keys", "create", "x", "--project", "p", "--role", "viewer", "--platform-admin"],
     "excludes"),
    (["keys", "create", "x", "--expires-in", "0"], "expires-in"),
    (["keys", "create", "x", "--expires-in", "soon"], "expires-in"),
    (["keys", "get"], "id"),
    (["keys", "revoke"], "id"),
    (["keys", "rotate", "abc", "--overlap", "-1"], "overlap"),
    (["keys", "list", "-o", "xml"], "output"),
    (["members"], "subcommand"),
    (["members", "list"], "project"),
    (["members", "set", "p", "user:a"], "role"),
    (["members", "set", "p", "user:a", "boss"], "viewer"),
    (["members", "remove", "p"], "subject"),
    (["audit"], "subcommand"),
    (["audit", "list", "--limit", "0"], "limit"),
    (["audit", "list", "--from-ms", "yesterday"], "from-ms"),
    (["audit", "export"], "data-dir"),
    (["audit", "verify", "--data-dir", "/tmp", "--url", "http://127.0.0.1:1"], "excludes"),
    (["audit", "verify", "--public-key", "00"], "data-dir"),
    (["audit", "frobnicate"], "subcommand"),
])
def test_usage_errors_exit_2(home, args, hint):
    result = cli(args, home)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert hint in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", [
    [], ["keys"], ["keys", "create"], ["keys", "list"], ["keys", "get"], ["keys", "revoke"],
    ["keys", "rotate"], ["members"], ["members", "list"], ["members", "set"],
    ["members", "remove"], ["audit"], ["audit", "list"], ["audit", "verify"],
    ["audit", "export"], ["projects", "create"],
])
def test_every_command_has_help(home, command):
    result = cli([*command, "--help"], home)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_unreachable_server_exits_2(home):
    result = cli(["keys", "list", "--url", "http://127.0.0.1:1", "--key", "k"], home)
    assert result.returncode == 2 and result.stderr.startswith("falaj: ")


# ----- audit (online) -----------------------------------------------------------------------------

def test_audit_list_shows_the_cli_mutations(server, home):
    project = new_project(server)
    admin = f"key:{admin_key_id(server)}"
    run_json(server, home, "members", "set", project, "group:auditors", "auditor")
    assert run(server, home, "members", "remove", project, "group:auditors").returncode == 0
    key = run_json(server, home, "keys", "create", "k", "--project", project, "--role", "viewer")
    # A refused request is audited too.
    assert run(server, home, "members", "set", project, "user:x", "admin",
               key=key["key"]).returncode == 1

    prefix = f"/api/v1/projects/{project}"
    records = run_json(server, home, "audit", "list", "--resource-prefix", prefix)
    seen = [(r["method"], r["resource"], r["status"], r["outcome"], r["principal"])
            for r in records]
    assert ("PUT", f"{prefix}/members/group:auditors", 200, "allowed", admin) in seen
    assert ("DELETE", f"{prefix}/members/group:auditors", 204, "allowed", admin) in seen
    assert ("POST", f"{prefix}/api-keys", 201, "allowed", admin) in seen
    assert ("PUT", f"{prefix}/members/user:x", 403, "denied", f"key:{key['id']}") in seen
    times = [r["time_ms"] for r in records]
    assert times == sorted(times, reverse=True), "newest first"

    # The same records through the project's own audit route, and the filters.
    scoped = run_json(server, home, "audit", "list", "--project", project)
    assert [r["request_id"] for r in scoped] == [r["request_id"] for r in records]
    mine = run_json(server, home, "audit", "list", "--project", project, "--principal", admin)
    assert mine and all(r["principal"] == admin for r in mine)
    assert len(run_json(server, home, "audit", "list", "--project", project,
                        "--limit", "1")) == 1
    newest = records[0]["time_ms"]
    assert run_json(server, home, "audit", "list", "--project", project,
                    "--from-ms", str(newest + 1)) == []
    older = run_json(server, home, "audit", "list", "--project", project,
                     "--to-ms", str(newest))
    assert all(r["time_ms"] < newest for r in older)
    # Query values are encoded: '&' and '=' in a filter cannot smuggle in another parameter.
    assert run_json(server, home, "audit", "list", "--principal", f"{admin}&limit=1") == []

    table = run(server, home, "audit", "list", "--project", project)
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ["TIME", "PRINCIPAL", "ACTION", "METHOD",
                                                    "RESOURCE", "STATUS", "OUTCOME"]


def test_audit_verify_online(server, home):
    new_project(server)
    result = run(server, home, "audit", "verify", "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == REPORT_FIELDS
    assert report["ok"] is True and report["entries"] >= 1 and report["reason"] == ""
    assert re.fullmatch(r"[0-9a-f]{64}", report["public_key"])
    table = run(server, home, "audit", "verify")
    assert table.returncode == 0
    assert re.search(r"^ok\s+true$", table.stdout, re.M)


def test_audit_needs_a_platform_admin(server, home):
    project = new_project(server)
    key = run_json(server, home, "keys", "create", "aud", "--project", project,
                   "--role", "auditor")
    assert run(server, home, "audit", "verify", key=key["key"]).returncode == 1
    assert run(server, home, "audit", "list", key=key["key"]).returncode == 1
    scoped = run_json(server, home, "audit", "list", "--project", project, key=key["key"])
    assert scoped and all(r["resource"].startswith(f"/api/v1/projects/{project}")
                          for r in scoped)


# ----- audit (offline, from the data directory) ---------------------------------------------------

def test_offline_verify_detects_tampering_and_export(make_server, home, tmp_path):
    server = make_server("offline").start()
    project = new_project(server)
    for subject in ("group:a", "group:b", "user:c"):
        run_json(server, home, "members", "set", project, subject, "viewer")
    online = run_json(server, home, "audit", "verify")
    assert online["ok"] is True
    server.stop_and_check()
    data_dir = server.data_dir

    verified = cli(["audit", "verify", "--data-dir", data_dir, "-o", "json"], home)
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert set(report) == REPORT_FIELDS
    assert report["ok"] is True and report["entries"] >= 4
    assert report["public_key"] == online["public_key"]
    # Shutdown signed the head, so nothing is left unanchored.
    assert report["checkpoints"] >= 1 and report["unanchored"] == 0
    # Against the public key recorded elsewhere, and against a wrong one.
    pinned = cli(["audit", "verify", "--data-dir", data_dir, "--public-key",
                  online["public_key"]], home)
    assert pinned.returncode == 0, pinned.stderr
    wrong = cli(["audit", "verify", "--data-dir", data_dir, "--public-key", "ab" * 32], home)
    assert wrong.returncode == 1 and "signature" in wrong.stderr

    exported = cli(["audit", "export", "--data-dir", data_dir], home)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == report["entries"]
    assert all(set(line) == EXPORT_FIELDS for line in lines)
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(lines, lines[1:]))
    assert lines[-1]["hash"] == report["head_hash"]
    members = cli(["audit", "export", "--data-dir", data_dir, "--resource-prefix",
                   f"/api/v1/projects/{project}/members"], home)
    member_lines = [json.loads(line) for line in members.stdout.splitlines()]
    assert [line["method"] for line in member_lines] == ["PUT"] * 3
    windowed = cli(["audit", "export", "--data-dir", data_dir, "--from-ms",
                    lines[1]["time_ms"], "--to-ms", lines[-1]["time_ms"], "--principal",
                    lines[0]["principal"]], home)
    assert [json.loads(line)["seq"] for line in windowed.stdout.splitlines()] == \
        [line["seq"] for line in lines[1:]
         if lines[1]["time_ms"] <= line["time_ms"] < lines[-1]["time_ms"]]

    with sqlite3.connect(data_dir / "falaj.db") as db:
        db.execute("UPDATE audit_events SET principal='x' WHERE seq=2")
    tampered = cli(["audit", "verify", "--data-dir", data_dir], home)
    assert tampered.returncode == 1, (tampered.stdout, tampered.stderr)
    assert "entry 2" in tampered.stderr
    assert re.search(r"^first_bad_seq\s+2$", tampered.stdout, re.M)
    as_json = cli(["audit", "verify", "--data-dir", data_dir, "-o", "json"], home)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["first_bad_seq"] == 2

    # The server, restarted on the tampered data, reports the same.
    server.start()
    online = run(server, home, "audit", "verify")
    assert online.returncode == 1 and "entry 2" in online.stderr
    server.stop_and_check()


def test_offline_commands_need_a_data_directory(home, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["audit", "verify", "--data-dir", empty],
                 ["audit", "export", "--data-dir", empty],
                 ["audit", "verify", "--data-dir", tmp_path / "absent"]):
        result = cli(args, home)
        assert result.returncode == 2, (args, result.stderr)
        assert "falaj.db" in result.stderr and result.stdout == ""
    # Nothing was created on the way: no database, no signing key.
    assert list(empty.iterdir()) == []
    assert not (tmp_path / "absent").exists()


def test_offline_verify_never_creates_a_signing_key(make_server, home):
    server = make_server("nokey").start()
    new_project(server)
    server.stop_and_check()
    key_file = server.data_dir / "audit_signing_key.pem"
    key_file.unlink()
    result = cli(["audit", "verify", "--data-dir", server.data_dir], home)
    assert result.returncode == 2
    assert "audit_signing_key.pem" in result.stderr
    assert not key_file.exists()
