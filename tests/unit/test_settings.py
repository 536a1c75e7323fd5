"""Settings: config wins over env, bad values name their key, the key never shows."""

from __future__ import annotations

import pytest

from gcore_pulumi.errors import ConfigurationError
from gcore_pulumi.settings import DEFAULT_BASE_URL, Settings, misspelt_settings

KEY = "sekrit-key-123"


def load(config: dict[str, str], env: dict[str, str] | None = None) -> Settings:
    return Settings.load(config.get, env or {})


def test_defaults() -> None:
    settings = load({})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.api_key is None
    assert settings.max_retries >= 2


def test_config_wins_over_env_and_env_fills_gaps() -> None:
    settings = load(
        {"gcore:projectId": "5", "gcore:apiKey": KEY},
        {"GCORE_CLOUD_PROJECT_ID": "9", "GCORE_CLOUD_REGION_ID": "3", "GCORE_API_KEY": "other"},
    )
    assert (settings.project_id, settings.region_id, settings.api_key) == (5, 3, KEY)


def test_key_is_not_in_repr() -> None:
    assert KEY not in repr(load({"gcore:apiKey": KEY}))


def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({}).require_api_key()
    assert "pulumi config set --secret gcore:apiKey" in str(caught.value)
    assert "GCORE_API_KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"gcore:maxRetries": "lots"}, "gcore:maxRetries"),
        ({"gcore:timeout": "-1"}, "gcore:timeout"),
        ({"gcore:projectId": "0"}, "gcore:projectId"),
        ({"gcore:allowInsecureHttp": "maybe"}, "gcore:allowInsecureHttp"),
        ({"gcore:baseUrl": "ftp://api.gcore.com"}, "gcore:baseUrl"),
    ],
)
def test_bad_values_name_their_key(config: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(config)
    assert caught.value.key == key
    assert key in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "http://127.8.0.1"]
)
def test_plain_http_is_fine_on_loopback(url: str) -> None:
    assert load({"gcore:baseUrl": url}).base_url == url


def test_plain_http_to_a_remote_host_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="clear text"):
        load({"gcore:baseUrl": "http://api.gcore.com"})
    allowed = load({"gcore:baseUrl": "http://api.gcore.com/", "gcore:allowInsecureHttp": "true"})
    assert allowed.base_url == "http://api.gcore.com"


def test_credentials_in_url_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({"gcore:baseUrl": "https://user:pw-secret@api.gcore.com"})
    assert "pw-secret" not in str(caught.value)


@pytest.mark.parametrize("suffix", ["?x=1", "/?", "#top", "/cloud?token=abc"])
def test_base_url_with_query_or_fragment_is_refused(suffix: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({"gcore:baseUrl": "https://api.gcore.com" + suffix})
    assert caught.value.key == "gcore:baseUrl"
    assert "token=abc" not in str(caught.value)


@pytest.mark.parametrize("key", [KEY + "\n", KEY + "\r\n", "a\tb", "sek\x7frit", "sekrït", "a b"])
def test_api_key_with_control_or_invisible_characters_is_refused_without_showing_it(
    key: str,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({"gcore:apiKey": key})
    assert caught.value.key == "gcore:apiKey"
    assert key.strip() not in str(caught.value)
    with pytest.raises(ConfigurationError) as from_env:
        load({}, {"GCORE_API_KEY": key})
    assert from_env.value.key == "GCORE_API_KEY"


def test_settings_problems_never_quote_the_value() -> None:
    _, problems = Settings.load_lenient(
        {"gcore:timeout": "hunter2", "gcore:projectId": "s3cret"}.get, {}
    )
    assert problems and all("hunter2" not in str(p) and "s3cret" not in str(p) for p in problems)


@pytest.mark.parametrize("value", ["", "  "])
@pytest.mark.parametrize(
    "key", ["gcore:baseUrl", "gcore:apiKey", "gcore:projectId", "gcore:ruleApi", "gcore:deadline"]
)
def test_a_config_key_given_empty_is_refused(key: str, value: str) -> None:
    env = {"GCORE_BASE_URL": "https://elsewhere.example", "GCORE_API_KEY": KEY}
    with pytest.raises(ConfigurationError) as caught:
        load({key: value}, env)
    assert caught.value.key == key
    assert f"{key} is set but empty" in str(caught.value)
    assert f"`pulumi config rm {key}`" in str(caught.value)
    assert KEY not in str(caught.value)


def test_an_empty_base_url_variable_is_refused_other_empty_variables_are_unset() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({}, {"GCORE_BASE_URL": ""})
    assert caught.value.key == "GCORE_BASE_URL"
    assert "GCORE_BASE_URL is set but empty" in str(caught.value)
    assert "`unset GCORE_BASE_URL`" in str(caught.value)
    settings = load({}, {"GCORE_DEADLINE": "", "GCORE_CLOUD_PROJECT_ID": "", "GCORE_API_KEY": ""})
    assert (settings.deadline, settings.project_id, settings.api_key) == (300.0, None, None)
    # A stack config value wins, so an empty variable under it does not matter.
    assert load({"gcore:baseUrl": "http://127.0.0.1:1"}, {"GCORE_BASE_URL": ""}).base_url


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "127.0.0.2", "127.255.255.254", "2130706433", "localhost",
     "LOCALHOST", "localhost.", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"],
)  # fmt: skip
def test_every_loopback_spelling_is_loopback(host: str) -> None:
    from gcore_pulumi.settings import is_loopback

    assert is_loopback(host)
    bare = host.strip("[]")
    in_url = f"[{bare}]" if ":" in bare else bare
    # plain http to it is allowed (no gcore:allowInsecureHttp needed)
    assert load({"gcore:baseUrl": f"http://{in_url}:8787"}).base_url.endswith(":8787")


@pytest.mark.parametrize(
    "host",
    ["128.0.0.1", "10.0.0.1", "api.gcore.com", "localhost.example", "126.255.255.255", "::2"],
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    from gcore_pulumi.settings import is_loopback

    assert not is_loopback(host)


@pytest.mark.parametrize("key", ["GCore:env", "GCORE:dbPassword", "Gcore:owner"])
def test_a_project_named_gcore_in_another_case_keeps_its_own_keys(key: str) -> None:
    # Pulumi namespaces a project's own config by the project's name, case and all: only a
    # key whose name is close to a setting's is taken for a misspelt setting there.
    assert misspelt_settings([key]) == []


@pytest.mark.parametrize(("key", "meant"), [("Gcore:baseUrl", "gcore:baseUrl"),
                                            ("GCORE:apikey", "gcore:apiKey"),
                                            ("Gcore:region", "gcore:regionId")])  # fmt: skip
def test_a_setting_in_another_case_of_the_namespace_is_refused(key: str, meant: str) -> None:
    [problem] = misspelt_settings([key])
    assert f"did you mean {meant}?" in str(problem)


@pytest.mark.parametrize("key", ["gcore:env", "gcore:dbPassword"])
def test_the_suggestion_comes_from_the_name_not_the_shared_namespace(key: str) -> None:
    # "gcore:" alone made difflib suggest gcore:regionId for gcore:env
    [problem] = misspelt_settings([key])
    assert "did you mean" not in str(problem) and "use one of the settings" in str(problem)
