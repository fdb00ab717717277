from __future__ import annotations

import pytest

from pipeline.config import ConfigError, Settings, load_config, parse_config


def write(tmp_path, text: str):
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_overrides(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "settings:\n  allow_private_hosts: true\n  per_host_delay: 0.25\n"
            "feeds:\n  - name: desk\n    url: https://example.com/feed.xml\n    tags: [crypto]\n",
        )
    )
    assert config.settings.allow_private_hosts is True
    assert config.settings.per_host_delay == 0.25
    # Keys the file does not set keep the packaged defaults.
    assert config.settings.max_body_bytes == Settings().max_body_bytes
    assert [feed.name for feed in config.enabled_feeds] == ["desk"]
    assert config.feeds[0].tags == ["crypto"]


def test_disabled_feeds_are_not_enabled():
    config = parse_config(
        {"feeds": [{"name": "a", "url": "https://a.example/rss"},
                   {"name": "b", "url": "https://b.example/rss", "enabled": False}]}
    )
    assert [feed.name for feed in config.enabled_feeds] == ["a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds:\n  - name: desk\n    url: not a url\n", ["feeds.yaml", "feed #1 ('desk')", "key 'url'"]),
        ("feeds:\n  - name: desk\n    url: https://x.example/\n    colour: red\n",
         ["feed #1 ('desk')", "key 'colour'"]),
        ("settings:\n  allow_private_host: true\n", ["settings", "key 'allow_private_host'"]),
        ("settings:\n  per_host_delay: -1\n", ["settings", "key 'per_host_delay'"]),
        ("feeds:\n  - url: https://x.example/\n", ["feed #1", "key 'name'"]),
        ("feeds: [\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("feeds:\n  - {name: a, url: 'https://x.example/'}\n  - {name: a, url: 'https://y.example/'}\n",
         ["unique", "a"]),
    ],
)
def test_invalid_config_names_file_entry_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")

