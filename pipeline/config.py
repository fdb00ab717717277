"""Settings and `feeds.yaml`: one options object, built once, validated on load.

`load_config(path)` reads a YAML file with an optional `settings:` mapping and a `feeds:` list. Only
the keys a file sets override the defaults below. Any problem is a `ConfigError` naming the file, the
entry and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


class Settings(BaseModel):
    # Every number has bounds: an infinite delay or timeout would hang a night's run.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    allow_private_hosts: bool = False  # let the fetcher reach loopback/private addresses
    user_agent: str = "newsignal/0.1 (+https://github.com/newsignal/newsignal; news research bot)"
    connect_timeout: float = Field(10.0, gt=0, le=600)
    read_timeout: float = Field(20.0, gt=0, le=600)
    total_timeout: float = Field(60.0, gt=0, le=3600)  # one request, all retries excluded
    max_body_bytes: int = Field(10_000_000, gt=0, le=1_000_000_000)  # decoded size; larger refused
    max_redirects: int = Field(5, ge=0, le=30)
    retries: int = Field(3, ge=0, le=20)  # on timeouts, 429 and 5xx
    backoff_base: float = Field(0.5, ge=0, le=60)  # seconds; doubles each retry, with jitter
    max_retry_after: float = Field(120.0, ge=0, le=3600)  # longest Retry-After we will wait
    per_host_concurrency: int = Field(2, ge=1, le=64)
    per_host_delay: float = Field(1.0, ge=0, le=3600)  # minimum seconds between requests to a host
    global_concurrency: int = Field(16, ge=1, le=1024)
    respect_robots: bool = True
    # Near-duplicate similarity: MinHash Jaccard, or containment for texts of comparable length.
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    failure_threshold: float = Field(0.5, ge=0, le=1)  # share of failed articles (or feeds): exit 1
    # What one article may cost. Longer extracted text is stored, not analysed (rejected
    # `text_too_long`; `reprocess` with a higher limit analyses it); NLP running longer than the
    # budget stops, and the article is stored failed (`time_budget_exceeded`).
    max_text_chars: int = Field(200_000, ge=1_000, le=1_000_000)
    article_time_budget: float = Field(60.0, gt=0, le=3600)  # seconds
    # The direction model: the shipped one by default, or a folder or Hugging Face model id of any
    # sequence classifier, with a map from its label names to bearish/bullish/neutral
    # (e.g. ProsusAI/finbert: {positive: bullish, negative: bearish, neutral: neutral}).
    direction_model: str | None = None
    direction_label_map: dict[str, str] | None = None
    # int8 on ONNX Runtime (pipeline/onnx_int8.py): unset follows the model's config (the shipped
    # model runs in int8), false runs torch fp32, true exports any classifier to int8.
    direction_int8: bool | None = None

    @field_validator("direction_model")
    @classmethod
    def _model_folder_exists(cls, value: str | None) -> str | None:
        """A path (not a hub id) must name an existing folder: said at load, not mid-run."""
        if value and value.startswith(("/", "./", "../", "~")) and not Path(value).expanduser().is_dir():
            raise ValueError(f"no such folder: {value}")
        return value

    def nlp_options(self) -> dict:
        """Keyword arguments of `pipeline.nlp.build_nlp` for the models these settings name."""
        return {
            "direction_model": self.direction_model,
            "direction_label_map": self.direction_label_map,
            "direction_int8": self.direction_int8,
        }


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: HttpUrl
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    enabled: bool = True


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings = Field(default_factory=Settings)
    feeds: list[FeedConfig] = Field(default_factory=list)

    @property
    def enabled_feeds(self) -> list[FeedConfig]:
        return [feed for feed in self.feeds if feed.enabled]


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    location = list(error["loc"])
    parts: list[str] = []
    if location[:1] == ["feeds"] and len(location) > 1 and isinstance(location[1], int):
        index = location[1]
        feed = (raw.get("feeds") or [])[index] if index < len(raw.get("feeds") or []) else {}
        name = feed.get("name") if isinstance(feed, dict) else None
        parts.append(f"feed #{index + 1}" + (f" ({name!r})" if name else ""))
        location = location[2:]
    elif location:
        parts.append(str(location[0]))
        location = location[1:]
    key = ".".join(str(item) for item in location)
    if key:
        parts.append(f"key {key!r}")
    return ", ".join(parts) + f": {error['msg']}"


def parse_config(raw: Any, source: str = "<config>") -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with 'settings' and 'feeds'")
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(_describe(item, raw) for item in error.errors())
        raise ConfigError(f"{source}: {problems}") from None
    names = [feed.name for feed in config.feeds]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{source}: feed names must be unique; repeated: {', '.join(duplicates)}")
    return config


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    return parse_config(raw, str(path))
