"""Alert rules (loading, matching), digest windows, and the messages recipients read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.alerts import (
    Member,
    Rule,
    compose_alert,
    compose_digest,
    digest_due,
    digest_sequence,
    explain,
    load_rules,
    match_rule,
    plan_alerts,
    story_trigger,
)
from pipeline.errors import SettingsError
from pipeline.topics import ConceptMatch, load_concepts
from tests.conftest import ROOT

TOPICS = {c.id for c in load_concepts(ROOT / "seeds/topics.toml") if c.kind == "topic"}
SHIPPED = {r.id: r for r in load_rules(ROOT / "seeds/topics.toml", TOPICS)}


def test_the_shipped_rule_asks_for_summit_coverage_from_two_outlets():
    rule = SHIPPED["summit-coverage"]
    assert rule.all_topics == ("summit",) and rule.min_outlets == 2 and rule.min_baseline_similarity == 0
    assert rule.languages == () and rule.outlets == () and rule.urls == ()  # every language, the default URLs


@pytest.mark.parametrize("body, reason", [
    ('[[rule]]\nname = "x"\nall_topics = ["summit"]\n', "needs an id"),
    ('[[rule]]\nid = "x"\nall_topics = ["summitt"]\n', "unknown topics ['summitt']"),
    ('[[rule]]\nid = "x"\nnone_topics = ["summit"]\n', "needs all_topics or any_topics"),
    ('[[rule]]\nid = "x"\nany_topics = ["summit"]\n[[rule]]\nid = "x"\nany_topics = ["summit"]\n', "unique"),
    ('[[rule]\nid = "x"\n', "topics.toml"),
    ('[[rule]]\nid = "x"\nall_topics = ["summit"]\nmin_outlets = 0\n', "min_outlets must be a whole number"),
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


def member(article_id: int, outlet: str, hours: float, topics=("summit",), new=True) -> Member:
    return Member(article_id=article_id, when=ALERTED + timedelta(hours=hours), language="en", outlet=outlet,
                  topics=topics, matches=(), baseline_similarity=None, is_new=new)


TWO_OUTLETS = Rule(id="r", name="R", all_topics=("summit",), min_outlets=2)


@pytest.mark.parametrize("members, alerted_by", [
    ([member(1, "CBC", 0)], None),                                     # one outlet: an opinion, not yet news
    ([member(1, "CBC", 0), member(2, "CBC", 1)], None),                # still one outlet
    ([member(1, "CBC", 1), member(2, "BBC", 0)], 2),                   # two outlets: the earliest names it
    ([member(1, "CBC", 0, topics=()), member(2, "BBC", 1), member(3, "Sky", 2)], 2),  # only matching ones count
    ([member(1, "CBC", 0), member(2, "BBC", 1, topics=())], None),     # the second outlet's article does not match
])
def test_a_story_alerts_once_enough_outlets_report_it(members, alerted_by):
    planned = plan_alerts({5: members}, {}, [TWO_OUTLETS], ALERTED + timedelta(hours=3), 3600)
    assert [p.article_id for p in planned if p.sequence == 0] == ([alerted_by] if alerted_by else [])


def test_an_alerted_story_gets_a_digest_for_new_coverage_only():
    now = ALERTED + timedelta(hours=2, minutes=30)
    alerted = {("r", 5): ALERTED}
    fresh = plan_alerts({5: [member(1, "CBC", 0, new=False), member(2, "BBC", 2)]}, alerted, [TWO_OUTLETS], now, 3600)
    assert [(p.sequence, p.not_before) for p in fresh] == [(3, ALERTED + timedelta(hours=3))]
    stale = plan_alerts({5: [member(1, "CBC", 0, new=False)]}, alerted, [TWO_OUTLETS], now, 3600)
    assert stale == []


def test_the_alert_names_a_story_not_an_arrival_order():
    members = [member(1, "CBC", 2), member(2, "BBC", 1), member(3, "Sky", 0)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        trigger = story_trigger(TWO_OUTLETS, [members[i] for i in order])
        assert trigger[0].article_id == 3


def test_an_explainer_at_the_storys_edge_does_not_stand_for_the_event():
    members = [Member(1, ALERTED, "en", "BBC", ("summit",), (), None, True, {"summit": 0.62}),  # early explainer
               Member(2, ALERTED + timedelta(hours=2), "en", "CBC", ("summit",), (), None, True, {"summit": 0.91}),
               Member(3, ALERTED + timedelta(hours=3), "de", "Spiegel", ("summit",), (), None, True, {"summit": 0.85})]
    trigger, match = story_trigger(TWO_OUTLETS, members)
    assert trigger.article_id == 2  # the earliest of those within 0.1 of the clearest
    assert explain(TWO_OUTLETS, trigger, match).text() == "summit (0.91)"
