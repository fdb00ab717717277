"""The SQLite schema as an ordered list of migrations.

A database records the number of migrations applied in `schema_version`; opening it applies the
rest in order, each in its own transaction. Never edit a released migration: append a new one.
"""

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_fetched_at TEXT,
        last_success_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        entries_seen INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL UNIQUE,
        guid TEXT,
        source TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        published_at TEXT,
        fetched_at TEXT NOT NULL,
        language TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        site_name TEXT,
        text TEXT NOT NULL DEFAULT '',
        html_hash TEXT,
        text_hash TEXT,
        minhash BLOB,
        status TEXT NOT NULL,
        reject_reason TEXT,
        duplicate_of INTEGER REFERENCES articles(id),
        processed_at TEXT,
        run_id INTEGER REFERENCES runs(id)
    );
    CREATE INDEX articles_guid ON articles(source, guid);
    CREATE INDEX articles_text_hash ON articles(text_hash);
    CREATE INDEX articles_published ON articles(published_at);

    CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        label TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        ticker TEXT,
        model TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX entities_article ON entities(article_id);

    CREATE TABLE figures (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        value REAL NOT NULL,
        value_high REAL,
        unit TEXT NOT NULL,
        metric TEXT NOT NULL,
        asset TEXT,
        period TEXT,
        qualifier TEXT,
        model TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX figures_article ON figures(article_id);

    CREATE TABLE catalysts (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        sentence TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        category TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('bearish', 'bullish', 'neutral')),
        confidence REAL NOT NULL,
        assets TEXT NOT NULL DEFAULT '[]',
        figure_ids TEXT NOT NULL DEFAULT '[]',
        model TEXT NOT NULL
    );
    CREATE INDEX catalysts_article ON catalysts(article_id);

    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        period TEXT,
        first_figure_id INTEGER NOT NULL REFERENCES figures(id) ON DELETE CASCADE,
        second_figure_id INTEGER NOT NULL REFERENCES figures(id) ON DELETE CASCADE,
        reason TEXT NOT NULL
    );
    CREATE INDEX conflicts_article ON conflicts(article_id);

    -- Researchers' judgements. The model's rows above are never overwritten; a correction points
    -- at the tag it judges (target_kind + target_id) or, for an added catalyst, at the article only.
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        target_kind TEXT NOT NULL CHECK (target_kind IN ('entity', 'figure', 'catalyst')),
        target_id INTEGER,
        action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'correct', 'add')),
        fields TEXT NOT NULL DEFAULT '{}',
        reviewer TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX corrections_target ON corrections(target_kind, target_id);
    CREATE INDEX corrections_article ON corrections(article_id);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        counts TEXT NOT NULL DEFAULT '{}',
        feed_errors TEXT NOT NULL DEFAULT '{}',
        failures TEXT NOT NULL DEFAULT '[]',
        exit_code INTEGER
    );
    """,
    # 2: how many runs have fetched an entry, so a passing failure is not retried for ever
    """
    ALTER TABLE articles ADD COLUMN fetch_attempts INTEGER NOT NULL DEFAULT 1;
    """,
    # 3: why a figure is not to be trusted ("implausible: ..."), else NULL
    """
    ALTER TABLE figures ADD COLUMN flag TEXT;
    """,
    # 4: the event type of a catalyst (models/events.yaml), when its model names one
    """
    ALTER TABLE catalysts ADD COLUMN event_type TEXT;
    """,
]
