"""The `falaj projects` client commands against a real server."""

import json
import socket

import pytest
import yaml

from conftest import cli, unique_name

PROJECT_FIELDS = {"name", "region", "description", "labels", "created_at", "updated_at"}


def with_server(server, *args):
    return ["projects", *args, "--url", server.url, "--key", server.key]


def table_rows(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].split(), [line.split() for line in lines[1:]]


def closed_port():
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_create_get_list_delete(server, home):
    name = unique_name("cli")
    created = cli(with_server(server, "create", name, "--region", "uae-north",
                              "--description", "from the cli", "--label", "team=risk",
                              "--label", "tier=gold", "-o", "json"), home)
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert set(body) == PROJECT_FIELDS
    assert body["name"] == name and body["region"] == "uae-north"
    assert body["description"] == "from the cli"
    assert body["labels"] == {"team": "risk", "tier": "gold"}
    # What the CLI printed is what the server stored.
    assert server.get(f"/api/v1/projects/{name}").json() == body

    got = cli(with_server(server, "get", name, "-o", "json"), home)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == body

    listed = cli(with_server(server, "list", "-o", "json"), home)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert isinstance(items, list)
    names = [item["name"] for item in items]
    assert name in names and names == sorted(names)
    assert next(item for item in items if item["name"] == name) == body

    deleted = cli(with_server(server, "delete", name), home)
    assert deleted.returncode == 0, deleted.stderr
    assert name in deleted.stdout
    assert server.get(f"/api/v1/projects/{name}").status_code == 404

    missing = cli(with_server(server, "get", name), home)
    assert missing.returncode == 1
    assert "404" in missing.stderr and "NOT_FOUND" in missing.stderr
    assert missing.stdout == ""


def test_yaml_output(server, home):
    name = unique_name("yaml")
    created = cli(with_server(server, "create", name, "--region", "eu-west", "--label",
                              "a=one", "-o", "yaml"), home)
    assert created.returncode == 0, created.stderr
    document = yaml.safe_load(created.stdout)
    assert document["name"] == name
    assert document["region"] == "eu-west"
    assert document["labels"] == {"a": "one"}
    assert set(document) == PROJECT_FIELDS

    got = yaml.safe_load(cli(with_server(server, "get", name, "-o", "yaml"), home).stdout)
    assert got == document

    listed = cli(with_server(server, "list", "-o", "yaml"), home)
    assert listed.returncode == 0
    items = yaml.safe_load(listed.stdout)
    assert isinstance(items, list)
    assert any(item["name"] == name and item["region"] == "eu-west" for item in items)


def test_yaml_output_keeps_strings_as_strings(server, home):
    """Descriptions and label values are strings; the YAML output must not turn "123" or
    "true" into a number or a boolean for the reader."""
    name = unique_name("yamltypes")
    labels = {"int": "1", "bool": "true", "float": "1.5", "hex": "0x10", "null": "null",
              "empty": ""}
    args = ["create", name, "--region", "eu-west", "--description", "123"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    created = cli(with_server(server, *args), home)
    assert created.returncode == 0, created.stderr
    stored = server.get(f"/api/v1/projects/{name}").json()
    assert stored["labels"] == labels and stored["description"] == "123"
    document = yaml.safe_load(cli(with_server(server, "get", name, "-o", "yaml"), home).stdout)
    assert document["description"] == "123"
    assert document["labels"] == labels


def test_table_output(server, home):
    name = unique_name("table")
    created = cli(with_server(server, "create", name, "--region", "uae-central"), home)
    assert created.returncode == 0, created.stderr
    header, rows = table_rows(created.stdout)
    assert header[:2] == ["NAME", "REGION"]
    assert "CREATED_AT" in header
    assert len(rows) == 1 and rows[0][:2] == [name, "uae-central"]

    listed = cli(with_server(server, "list"), home)
    assert listed.returncode == 0
    header, rows = table_rows(listed.stdout)
    assert header[0] == "NAME"
    assert [name, "uae-central"] in [row[:2] for row in rows]

    got = cli(with_server(server, "get", name, "-o", "table"), home)
    header, rows = table_rows(got.stdout)
    assert header[0] == "NAME" and rows[0][0] == name


def test_duplicate_create_exits_1(server, home):
    name = unique_name("dupcli")
    assert cli(with_server(server, "create", name, "--region", "eu-west"), home).returncode == 0
    again = cli(with_server(server, "create", name, "--region", "eu-west"), home)
    assert again.returncode == 1
    assert "409" in again.stderr and "already exists" in again.stderr
    assert again.stdout == ""


@pytest.mark.parametrize("args", [
    ["create", "Bad_Name", "--region", "eu-west"],
    ["create", "good-name-x", "--region", "mars"],
    ["create", "good-name-y", "--region", "eu-west", "--label", "BAD=x"],
])
def test_server_validation_errors_exit_1(server, home, args):
    result = cli(with_server(server, *args), home)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "400" in result.stderr and "INVALID_ARGUMENT" in result.stderr


def test_delete_missing_exits_1(server, home):
    result = cli(with_server(server, "delete", unique_name("ghost")), home)
    assert result.returncode == 1
    assert "404" in result.stderr


def test_missing_or_wrong_key_exits_1(server, home):
    no_key = cli(["projects", "list", "--url", server.url], home)
    assert no_key.returncode == 1
    assert "401" in no_key.stderr
    wrong = cli(["projects", "list", "--url", server.url, "--key", "wrong-key"], home)
    assert wrong.returncode == 1
    assert "401" in wrong.stderr


def test_unreachable_server_exits_2(home):
    port = closed_port()
    result = cli(["projects", "list", "--url", f"http://127.0.0.1:{port}", "--key", "k"], home)
    assert result.returncode == 2
    assert result.stderr.startswith("falaj: ")
    assert str(port) in result.stderr
    unresolvable = cli(["projects", "list", "--url", "http://no-such-host.invalid:8080",
                        "--key", "k"], home)
    assert unresolvable.returncode == 2


@pytest.mark.parametrize("args", [
    ["projects", "create", "no-region"],                        # required option missing
    ["projects", "create", "--region", "eu-west"],              # required name missing
    ["projects", "list", "-o", "xml"],                          # bad output format
    ["projects", "list", "--no-such-flag"],                     # unknown flag
    ["projects"],                                               # subcommand missing
    ["projects", "frobnicate"],                                 # unknown subcommand
    ["projects", "create", "x", "--region", "eu-west", "--label", "nolabel"],
    ["projects", "list", "--url", "ftp://127.0.0.1:1"],
])
def test_usage_errors_exit_2(home, args):
    result = cli(args, home)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.strip(), "a usage error explains itself on stderr"
    assert result.stdout == ""


def test_env_url_and_key(server, home):
    name = unique_name("envcli")
    env = {"FALAJ_URL": server.url, "FALAJ_KEY": server.key}
    created = cli(["projects", "create", name, "--region", "eu-west", "-o", "json"], home, env)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == name
    # A flag overrides the environment.
    overridden = cli(["projects", "list", "--key", "wrong-key"], home, env)
    assert overridden.returncode == 1 and "401" in overridden.stderr


def test_config_file_in_home(server, home):
    config_dir = home / ".config" / "falaj"
    config_dir.mkdir(parents=True)
    (config_dir / "config.yaml").write_text(f"url: {server.url}\nkey: {server.key}\n")
    name = unique_name("homecfg")
    created = cli(["projects", "create", name, "--region", "uae-north", "-o", "json"], home)
    assert created.returncode == 0, created.stderr
    listed = cli(["projects", "list", "-o", "json"], home)
    assert name in [item["name"] for item in json.loads(listed.stdout)]
    # The environment wins over the file.
    env_wins = cli(["projects", "list"], home, {"FALAJ_KEY": "wrong-key"})
    assert env_wins.returncode == 1 and "401" in env_wins.stderr


def test_config_file_with_wrong_key_is_overridden_by_env(server, home):
    config_dir = home / ".config" / "falaj"
    config_dir.mkdir(parents=True)
    (config_dir / "config.yaml").write_text(f"url: {server.url}\nkey: wrong-key\n")
    result = cli(["projects", "list"], home, {"FALAJ_KEY": server.key})
    assert result.returncode == 0, result.stderr


def test_malformed_home_config_exits_2(home):
    config_dir = home / ".config" / "falaj"
    config_dir.mkdir(parents=True)
    (config_dir / "config.yaml").write_text("url: [unclosed\n")
    result = cli(["projects", "list"], home)
    assert result.returncode == 2
    assert "config.yaml" in result.stderr


def test_cli_over_tls(make_server, tls_files, home):
    cert, key = tls_files
    server = make_server("cli-tls", ca_file=cert, env={"FALAJ_TLS_CERT_FILE": str(cert),
                                                       "FALAJ_TLS_KEY_FILE": str(key)}).start()
    name = unique_name("tlscli")
    for host in ("localhost", "127.0.0.1"):
        url = f"https://{host}:{server.port}"
        result = cli(["projects", "list", "--url", url, "--key", server.key, "--ca-file", cert],
                     home)
        assert result.returncode == 0, (host, result.stderr)
    created = cli(["projects", "create", name, "--region", "eu-west", "--url", server.url,
                   "--key", server.key, "--ca-file", cert, "-o", "json"], home)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == name
    # Without the CA the certificate is not trusted: the server is unusable, exit 2.
    untrusted = cli(["projects", "list", "--url", server.url, "--key", server.key], home)
    assert untrusted.returncode == 2
    # Plain http to the TLS port does not get through either.
    plain = cli(["projects", "list", "--url", f"http://127.0.0.1:{server.port}",
                 "--key", server.key], home)
    assert plain.returncode == 2
    server.stop_and_check()


def test_version(home):
    result = cli(["version"], home)
    assert result.returncode == 0
    assert result.stdout.startswith("falaj ")
