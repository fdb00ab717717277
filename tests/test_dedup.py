"""Deduplication: canonical URLs, exact hashes, entry selection, and MinHash near-duplicates on
real-looking texts.

The texts below are written for these tests in the shape of real crypto-market stories: an
original, its syndicated copy on a Korean site (other chrome, a few edits, a tail of related
headlines), and three different stories on the same topic and days that must stay distinct.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Settings
from pipeline.dedup import (
    NearDuplicateIndex,
    canonicalize_url,
    select_new_entries,
    shingles,
    similarity,
    text_hash,
)
from pipeline.records import Article, ArticleStatus, FeedEntry

THRESHOLD = Settings().near_duplicate_threshold

ORIGINAL = """Crypto market sheds $2.65 billion as Bitcoin briefly touches $60,000

Over the past 24 hours more than $2.6 billion left the crypto market, with Bitcoin (BTC) sliding \
to $60,000 on Friday before bouncing back toward $65,000. Derivatives data point the same way: \
Open Interest keeps shrinking and the long-to-short ratio has slipped below one.

Roughly 585,000 traders were liquidated across derivatives venues during the day, erasing about \
$2.62 billion of long positions. The biggest single liquidation hit Binance, where one account \
lost $12.02 million on the BTC-USDT pair.

Open Interest in crypto derivatives fell to $95.73 billion on Friday, down from the October 7 \
high of $233.50 billion. The long-to-short ratio stands at 0.9594, so shorts now outnumber longs, \
a sign of risk-off positioning among traders.

The Fear and Greed Index dropped to 5, a level that signals extreme fear. Total crypto market \
capitalisation is about $2.18 trillion, while the altcoin market has shrunk to roughly $900 \
billion, suggesting altcoins may keep underperforming as capital rotates into Bitcoin or leaves \
the sector.

Institutional appetite is fading too. US spot Bitcoin ETFs saw outflows of $258 million on \
Thursday, taking February withdrawals past $500 million after three straight months in which \
outflows exceeded $6 billion.

Strategy (MSTR), the company led by Michael Saylor, reported a fourth-quarter loss of $12.6 \
billion and an operating loss of $17.4 billion, and its shares fell 17% on Thursday to close near \
$106.

Geopolitics weighs as well: a January advisory urging US citizens to leave Iran is back in focus \
ahead of US-Iran nuclear talks in Oman. In Washington, the Digital Asset Market Clarity Act has \
been pushed back to spring, and Treasury Secretary Scott Bessent ruled out any bailout for the \
industry, saying the Strategic Bitcoin Reserve will grow only through seizures.

Until a bullish catalyst appears, the pressure on crypto prices may last.
"""

# The same story as republished by a Korean broker's site: its own source line and disclaimer,
# one sentence cut, two figures and a heading edited, and a block of related headlines below.
SYNDICATED = """Crypto market sheds $2.65 billion as Bitcoin dips to $60,000 amid bearish sentiment

출처 Fxstreet

Over the past 24 hours more than $2.6 billion left the crypto market, with Bitcoin (BTC) sliding \
to $60,000 on Friday before bouncing back toward $65,000. Derivatives data point the same way: \
Open Interest keeps shrinking and the long-to-short ratio has slipped below one.

Another liquidation wave

Roughly 585,000 traders were liquidated across derivatives venues during the day, erasing about \
$2.62 billion of bullish positions. The biggest single liquidation hit Binance, where one account \
lost $12.02 million on the BTC-USDT pair.

Open Interest in crypto derivatives fell to $95.73 billion on Friday, down from the October 7 \
high of $233.50 billion. The long-to-short ratio stands at 0.9594, so shorts now outnumber longs, \
a sign of risk-off positioning among traders.

The Fear and Greed Index dropped to 5, a level that signals extreme fear. Total crypto market \
capitalisation is about $2.18 trillion, while the altcoin market has shrunk to roughly $900 \
billion, suggesting altcoins may keep underperforming as capital rotates into Bitcoin or leaves \
the sector.

Institutional appetite is fading too. US spot Bitcoin ETFs saw outflows of $258 million on \
Thursday, taking February withdrawals past $500 million after three straight months in which \
outflows exceeded $6 billion.

Strategy (MSTR), the company led by Michael Saylor, reported a Q4 loss of $12.6 billion and an \
operating loss of $17.4 billion, and its shares fell 17% on Thursday to close near $106.

Geopolitics weighs as well: a January advisory urging US citizens to leave Iran is back in focus \
ahead of US-Iran nuclear talks in Oman. In Washington, the Digital Asset Market Clarity Act has \
been pushed back to spring, and Treasury Secretary Scott Bessent ruled out any bailout for the \
industry, saying the Strategic Bitcoin Reserve will grow only through seizures.

면책 조항: 본 자료는 정보 제공용이며 투자 권유가 아닙니다.

리플(XRP), 1.6달러 지지선 시험대에 올라
저자 편집팀
이더리움, 2천 달러 아래로 밀리며 약세 지속
저자 편집팀
"""

# Same day, same market, same figures in places, but written as different stories.
SAME_TOPIC_LIQUIDATIONS = """Ether leads crypto liquidations as leveraged longs are flushed out

Leveraged traders had a rough session on Friday. Ether (ETH) fell below $1,900 for the first time \
since early 2024, and its futures accounted for nearly $900 million of the day's forced closures, \
more than any other asset, according to CoinGlass figures.

Across the market, long positions made up the bulk of the damage. Analysts at one trading desk \
said funding rates on perpetual swaps had flipped negative on most large venues, which usually \
means short sellers are paying to keep their bets open.

Bitcoin held up slightly better than Ether but still traded in a wide band between $60,000 and \
$65,000. Solana and XRP lost 9% and 7% respectively over the same period, while Dogecoin dropped \
11%.

Options markets are pricing more turbulence. Put contracts with March expiries are trading at a \
premium to calls, and implied volatility for one-month Ether options climbed above 80%.

Some market makers expect a relief rally once forced selling is exhausted, but they caution that \
spot demand remains thin and order books on major exchanges are shallower than a month ago.
"""

SAME_TOPIC_ETF = """Bitcoin ETFs extend losing streak as investors pull another $258 million

US spot Bitcoin exchange-traded funds recorded net redemptions for a fifth straight trading day \
on Thursday, with $258 million leaving the products, data compiled by SoSoValue show.

BlackRock's iShares Bitcoin Trust saw the largest single withdrawal, while Fidelity's fund posted \
a small inflow that did little to offset the trend. Cumulative net inflows since the funds \
launched in January 2024 have now slipped back to their lowest level since the summer.

Wealth managers say clients are trimming crypto allocations after the drawdown from October's \
record highs, and some advisers are rebalancing toward short-dated Treasuries while yields stay \
elevated.

Ether ETFs fared no better, shedding $61 million on the day. Issuers of products tracking Solana \
and XRP reported modest inflows, though those funds remain small compared with the Bitcoin \
vehicles.

Market strategists will watch next week's inflation report closely: a softer reading could revive \
bets on rate cuts and bring buyers back to risk assets, crypto included.
"""

SAME_TOPIC_STRATEGY = """Strategy shares slide 17% after record quarterly loss on Bitcoin writedown

Strategy (MSTR) stock closed near $106 on Thursday, down 17%, after the company disclosed a \
fourth-quarter net loss of $12.6 billion driven by the fall in the value of its Bitcoin holdings.

Under fair-value accounting the firm must mark its coins to market each quarter, so the slide in \
Bitcoin from above $120,000 in October translated directly into the loss. The operating loss for \
the quarter came to $17.4 billion.

Executive chairman Michael Saylor told analysts on the earnings call that the company has no plans \
to sell any Bitcoin and will keep raising capital through preferred stock offerings.

Some investors are less patient. The premium of Strategy's market value over the worth of its \
Bitcoin has largely disappeared, which limits the firm's ability to issue shares without diluting \
holders. Short interest in the stock rose to its highest level in a year.

Bitcoin itself dipped to $60,000 on Friday, adding pressure ahead of the next quarterly report.
"""

DISTINCT = {
    "liquidations": SAME_TOPIC_LIQUIDATIONS,
    "etf": SAME_TOPIC_ETF,
    "strategy": SAME_TOPIC_STRATEGY,
}


def exact_jaccard(first: str, second: str) -> float:
    a, b = shingles(first), shingles(second)
    return len(a & b) / len(a | b)


# -- exact ----------------------------------------------------------------------------------------


def test_text_hash_ignores_case_and_whitespace_only():
    assert text_hash("Bitcoin  fell\n\nto $60,000.") == text_hash("bitcoin fell to $60,000. ")
    assert text_hash("Bitcoin fell to $60,000.") != text_hash("Bitcoin fell to $65,000.")
    assert len(text_hash("")) == 64


def entry(url: str, guid: str | None = None, feed: str = "wire") -> FeedEntry:
    return FeedEntry(feed_name=feed, url=url, canonical_url=url, guid=guid)


def test_select_new_entries_skips_stored_and_repeated(store):
    stored = entry("https://a.example/stored", guid="g-stored")
    stored_id = store.save_article(stored, Article(url=stored.url, text="x"),
                                   ArticleStatus.PROCESSED)
    candidates = [
        entry("https://a.example/new-1", guid="g1"),
        entry("https://a.example/stored"),  # known by canonical URL
        entry("https://a.example/moved", guid="g-stored"),  # known by GUID in the same feed
        entry("https://a.example/new-1", feed="other"),  # the same story in a second feed
        entry("https://a.example/new-2", guid="g1"),  # GUID repeated within one feed
        entry("https://a.example/new-3", guid="g-stored", feed="other"),  # GUIDs are per feed
    ]
    verdict = select_new_entries(candidates, store.known_entry)
    assert [e.url for e in verdict.new] == ["https://a.example/new-1", "https://a.example/new-3"]
    assert [(e.url, article_id) for e, article_id in verdict.known] == [
        ("https://a.example/stored", stored_id), ("https://a.example/moved", stored_id)]
    assert [(e.feed_name, e.url) for e in verdict.repeated] == [
        ("other", "https://a.example/new-1"), ("wire", "https://a.example/new-2")]


# -- near duplicates ------------------------------------------------------------------------------


def test_syndicated_copy_is_found():
    index = NearDuplicateIndex(THRESHOLD)
    index.add(1, index.signature(ORIGINAL))
    for article_id, text in enumerate(DISTINCT.values(), start=2):
        index.add(article_id, index.signature(text))
    assert index.find(index.signature(SYNDICATED)) == 1


@pytest.mark.parametrize("name", sorted(DISTINCT))
def test_same_topic_stories_are_not_duplicates(name):
    index = NearDuplicateIndex(THRESHOLD)
    index.add(1, index.signature(ORIGINAL))
    others = [text for key, text in DISTINCT.items() if key != name]
    for article_id, text in enumerate(others, start=2):
        index.add(article_id, index.signature(text))
    assert index.find(index.signature(DISTINCT[name])) is None


def score(first: str, second: str) -> float:
    return similarity(NearDuplicateIndex.signature(first), NearDuplicateIndex.signature(second))


def test_threshold_margin_on_the_test_texts():
    # Why the threshold works: the copy sits well above it, same-topic stories far below.
    assert score(ORIGINAL, SYNDICATED) >= THRESHOLD + 0.05
    for text in DISTINCT.values():
        assert score(ORIGINAL, text) < 0.2


def test_copy_with_a_long_chrome_tail_is_found_by_containment():
    # Jaccard alone falls under the threshold once a site appends enough of its own text.
    tail = "\n".join(f"Related: {line.strip()}" for line in SAME_TOPIC_ETF.splitlines()[:6])
    copy = SYNDICATED + tail
    assert exact_jaccard(ORIGINAL, copy) < THRESHOLD
    index = NearDuplicateIndex(THRESHOLD)
    index.add(7, index.signature(ORIGINAL))
    assert index.find(index.signature(copy)) == 7


def test_commentary_quoting_a_whole_short_text_is_not_its_duplicate():
    release = SAME_TOPIC_ETF.split("\n\n")[1]  # one paragraph, quoted whole below
    commentary = SAME_TOPIC_STRATEGY + "\n\n" + release + "\n\n" + SAME_TOPIC_LIQUIDATIONS
    index = NearDuplicateIndex(THRESHOLD)
    index.add(1, index.signature(release))
    assert index.find(index.signature(commentary)) is None


def test_signature_round_trips_through_the_store(store):
    index = NearDuplicateIndex(THRESHOLD)
    signature = index.signature(ORIGINAL)
    first = entry("https://fx.example/story")
    article_id = store.save_article(
        first, Article(url=first.url, text=ORIGINAL), ArticleStatus.PROCESSED,
        text_hash=text_hash(ORIGINAL), minhash=index.serialize(signature),
    )
    reloaded = NearDuplicateIndex.from_pairs(store.minhashes(), THRESHOLD)
    assert len(reloaded) == 1
    assert reloaded.find(index.signature(SYNDICATED)) == article_id
    assert reloaded.find(index.signature(SAME_TOPIC_ETF)) is None
    assert store.article_by_text_hash(text_hash(ORIGINAL.upper())) == article_id


def test_unreadable_signatures_are_skipped():
    good = NearDuplicateIndex.serialize(NearDuplicateIndex.signature(ORIGINAL))
    index = NearDuplicateIndex.from_pairs(
        [(1, b"junk"), (2, good[:-8]), (3, b"XXXX" + good[4:]), (4, good)], THRESHOLD
    )
    assert len(index) == 1
    assert index.find(NearDuplicateIndex.signature(ORIGINAL)) == 4


def test_empty_text_matches_nothing():
    index = NearDuplicateIndex(THRESHOLD)
    index.add(1, index.signature(""))
    index.add(2, index.signature(ORIGINAL))
    assert len(index) == 1
    assert index.find(index.signature("")) is None
    assert index.find(index.signature("   \n ")) is None


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://WWW.Example.COM:443/a/B?utm_source=x&b=2&a=1&fbclid=zz#frag",
         "https://www.example.com/a/B?a=1&b=2"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:8080/x?gclid=1", "http://example.com:8080/x"),
        ("https://user:secret@example.com/x", "https://example.com/x"),
        ("https://example.com/x?q=a+b&q=c", "https://example.com/x?q=a%20b&q=c"),
        ("https://example.com/x?UTM_Campaign=spring&page=2", "https://example.com/x?page=2"),
        ("https://example.com./x?empty=", "https://example.com/x?empty="),
        ("  https://example.com/x#  ", "https://example.com/x"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("https://example.com:99999/x", "https://example.com:99999/x"),  # unparseable port
    ],
)
def test_canonicalize_url(url, canonical):
    assert canonicalize_url(url) == canonical


query_values = st.text(alphabet="abcXYZ019-_.~ %&=+", max_size=8)


@given(
    path=st.lists(st.text(alphabet="abcdef0123-_", min_size=1, max_size=6), max_size=4),
    params=st.lists(st.tuples(st.sampled_from(["id", "page", "utm_medium", "fbclid", "q"]),
                              query_values), max_size=5),
    fragment=st.text(alphabet="abc#!", max_size=5),
)
def test_canonicalize_url_is_idempotent_and_order_free(path, params, fragment):
    from urllib.parse import urlencode

    base = "https://News.Example.com/" + "/".join(path)
    url = base + "?" + urlencode(params) + "#" + fragment
    reordered = base + "?" + urlencode(list(reversed(params)))
    canonical = canonicalize_url(url)
    assert canonicalize_url(canonical) == canonical
    assert "#" not in canonical and "utm_" not in canonical and "fbclid" not in canonical
    if len({key for key, _ in params}) == len(params):  # repeated keys keep their own order
        assert canonicalize_url(reordered) == canonical
