"""A reproducible benchmark corpus: N article pages recombined from the team's own articles.

Paragraphs come from the gold articles in `models/data/gold/*.txt` and the demo pages'
extracted text; each generated article draws a seeded selection of them and is wrapped in site
chrome (navigation, related links, footer), so the extractor has real work to do. Nothing here is
written to the repository.
"""

from __future__ import annotations

import html
import random
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Ledger Desk</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2026-02-{day:02d}T{hour:02d}:15:00Z">
<link rel="canonical" href="https://ledgerdesk.example/markets/{slug}"></head>
<body>
<header><nav><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/policy">Policy</a>
<a href="/newsletter">Newsletter</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Desk Staff · Feb {day}, 2026</p>
{paragraphs}
</article>
<aside><h3>Most read</h3><ul>{related}</ul></aside></main>
<footer><p>© 2026 Ledger Desk. All rights reserved. Prices are indicative only.</p></footer>
</body></html>"""


def paragraph_pool() -> list[str]:
    from pipeline.extract import extract_article

    pool: list[str] = []
    for path in sorted((REPO_ROOT / "models" / "data" / "gold").glob("*.txt")):
        pool += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
    for path in sorted((REPO_ROOT / "pipeline" / "samples" / "pages").rglob("*.html")):
        article = extract_article(path.read_bytes(), f"https://samples.example/{path.name}")
        if article.language == "en" and not article.reject_reason:
            pool += [p.strip() for p in article.text.split("\n\n")]
    return [p for p in dict.fromkeys(pool) if len(p.split()) >= 12]


def build_corpus(count: int = 500, seed: int = 7) -> list[tuple[str, bytes]]:
    """(url, html bytes) for `count` distinct pages."""
    rng = random.Random(seed)
    pool = paragraph_pool()
    if len(pool) < 20:
        raise SystemExit("benchmark corpus: too few team-written paragraphs found")
    pages = []
    for number in range(count):
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(5, 9)))
        title = chosen[0].split(". ")[0][:90]
        slug = f"story-{number}"
        related = "".join(
            f'<li><a href="/markets/story-{rng.randrange(count)}">{html.escape(p[:60])}</a></li>'
            for p in rng.sample(pool, 4)
        )
        body = PAGE.format(
            title=html.escape(title), day=1 + number % 27, hour=number % 24, slug=slug,
            paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in chosen), related=related,
        )
        pages.append((f"https://ledgerdesk.example/markets/{slug}", body.encode("utf-8")))
    return pages
