"""Alert rules (loading, matching), digest windows, and the messages recipients read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.alerts import Rule, compose_alert, compose_digest, digest_due, digest_sequence, load_rules, match_rule
from pipeline.errors import SettingsError
from pipeline.topics import ConceptMatch, load_concepts
from tests.conftest import ROOT

TOPICS = {c.id for c in load_concepts(ROOT / "seeds/topics.toml") if c.kind == "topic"}
SHIPPED = {r.id: r for r in load_rules(ROOT / "seeds/topics.toml", TOPICS)}


def test_the_shipped_rule_asks_for_summit_and_war_close_to_the_baseline():
    rule = SHIPPED["summit-coverage"]
    assert rule.all_topics == ("summit", "ukraine-war") and rule.min_baseline_similarity == 0.45
    assert rule.languages == () and rule.outlets == () and rule.urls == ()  # every language, the default URLs


@pytest.mark.parametrize("body, reason", [
    ('[[rule]]\nname = "x"\nall_topics = ["summit"]\n', "needs an id"),
    ('[[rule]]\nid = "x"\nall_topics = ["summitt"]\n', "unknown topics ['summitt']"),
    ('[[rule]]\nid = "x"\nnone_topics = ["summit"]\n', "needs all_topics or any_topics"),
    ('[[rule]]\nid = "x"\nany_topics = ["summit"]\n[[rule]]\nid = "x"\nany_topics = ["summit"]\n', "unique"),
    ('[[rule]\nid = "x"\n', "topics.toml"),
])
def test_a_bad_rule_is_refused_with_the_reason(tmp_path, body, reason):
    path = tmp_path / "topics.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(SettingsError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        load_rules(path, TOPICS)


MATCHES = (ConceptMatch("summit", "topic", 3, ("summit", "*summit")),
           ConceptMatch("ukraine-war", "topic", 2, ("ukraine",)),
           ConceptMatch("alaska", "entity", 2, ("alaska",)))
RULE = Rule(id="r", name="R", all_topics=("summit", "ukraine-war"), min_baseline_similarity=0.45)


@pytest.mark.parametrize("rule, topics, language, outlet, similarity, fires", [
    (RULE, ("summit", "ukraine-war"), "de", "Alpenpost", 0.6, True),
    (RULE, ("summit", "ukraine-war"), "de", "Alpenpost", 0.44, False),  # too far from the baseline
    (RULE, ("summit", "ukraine-war"), "de", "Alpenpost", None, False),  # no labels at all
    (RULE, ("summit",), "en", "CBC", 0.9, False),  # a G7 summit: no war
    (RULE, ("ukraine-war",), "en", "CBC", 0.9, False),  # the war, no summit
    (Rule(id="r", name="R", any_topics=("summit", "ceasefire")), ("ceasefire",), "en", "CBC", 0.1, True),
    (Rule(id="r", name="R", any_topics=("summit",), none_topics=("sanctions",)),
     ("summit", "sanctions"), "en", "CBC", 0.9, False),
    (Rule(id="r", name="R", any_topics=("summit",), languages=("uk", "ru")), ("summit",), "en", "CBC", 0.9, False),
    (Rule(id="r", name="R", any_topics=("summit",), languages=("uk", "ru")), ("summit",), "uk", "X", 0.9, True),
    (Rule(id="r", name="R", any_topics=("summit",), outlets=("CBC",)), ("summit",), "en", "BBC", 0.9, False),
])
def test_rule_matching(rule, topics, language, outlet, similarity, fires):
    match = match_rule(rule, topics=topics, matches=MATCHES, language=language, outlet=outlet,
                       baseline_similarity=similarity)
    assert (match is not None) is fires


def test_a_match_says_which_terms_fired_for_the_rules_topics_only():
    match = match_rule(RULE, topics=("summit", "ukraine-war"), matches=MATCHES, language="en", outlet="CBC",
                       baseline_similarity=0.7)
    assert match.terms == {"summit": ["summit", "*summit"], "ukraine-war": ["ukraine"]}


ALERTED = datetime(2025, 8, 16, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("minutes_later, sequence", [(1, 1), (59, 1), (60, 2), (61, 2), (150, 3)])
def test_follow_ups_fall_into_hourly_digests(minutes_later, sequence):
    seen = ALERTED + timedelta(minutes=minutes_later)
    assert digest_sequence(ALERTED, seen, 3600) == sequence
    assert digest_due(ALERTED, sequence, 3600) > seen >= digest_due(ALERTED, sequence - 1, 3600)


ARTICLE = {"id": 7, "title": "Gipfel in Alaska: kein Waffenstillstand", "language": "de", "outlet": "Alpenpost",
           "url": "https://alpenpost.example/gipfel", "published_at": ALERTED, "baseline_similarity": 0.734,
           "baseline_adds": ["summit venues"]}
STORY = {"id": 3, "title": "Gipfel in Alaska", "article_count": 4, "copies": 1, "outlets": ["Alpenpost", "CBC"],
         "languages": ["de", "en"]}
ALERT = {"idempotency_key": "newswatch-r-story-3-0", "terms": {"summit": ["*gipfel"]}}


def test_an_alert_reads_as_text_and_as_a_document():
    message = compose_alert(ALERT, ARTICLE, STORY, RULE, "https://nw.example/newswatch")
    lines = message.body.splitlines()
    assert lines[0] == "[de] Gipfel in Alaska: kein Waffenstillstand"  # original language, tagged
    assert lines[1] == "Alpenpost · 2025-08-16T09:00:00+00:00"
    assert lines[2] == "https://alpenpost.example/gipfel"
    assert lines[3] == "Why: R — summit (*gipfel)"
    assert lines[4] == "Baseline similarity 0.73 · new: summit venues"
    assert lines[5] == "Story so far: 4 article(s) (+1 copy) from 2 outlet(s) in de, en"
    assert "In newswatch: https://nw.example/newswatch/articles/7" in lines
    assert lines[-1] == "Alert id: newswatch-r-story-3-0"
    assert message.title == "newswatch: R — Gipfel in Alaska: kein Waffenstillstand"
    assert message.document["article"]["newswatch_url"] == "https://nw.example/newswatch/articles/7"
    assert message.document["matched_terms"] == {"summit": ["*gipfel"]} and message.document["story"]["copies"] == 1


def test_without_a_web_url_there_is_no_link_to_the_app():
    message = compose_alert(ALERT, ARTICLE, STORY, RULE, None)
    assert "In newswatch" not in message.body and message.document["article"]["newswatch_url"] is None


def test_a_digest_names_the_outlets_and_languages_new_to_the_story():
    later = [{**ARTICLE, "id": 8, "outlet": "Київський вісник", "language": "uk", "title": "Саміт"},
             {**ARTICLE, "id": 9, "outlet": "CBC", "language": "en", "title": "Summit"}]
    message = compose_digest({"idempotency_key": "newswatch-r-story-3-1"}, later, STORY, RULE, None,
                             earlier_outlets=["Alpenpost", "CBC"], earlier_languages=["de", "en"])
    assert message.body.splitlines()[:2] == ["2 more article(s) on: Gipfel in Alaska",
                                             "New outlets: Київський вісник · new languages: uk"]
    assert "- [uk] Саміт (Київський вісник, 2025-08-16T09:00:00+00:00) https://alpenpost.example/gipfel" in message.body
    assert message.document["new_outlets"] == ["Київський вісник"] and message.document["new_languages"] == ["uk"]
    assert [a["id"] for a in message.document["articles"]] == [8, 9]
