"""Duplicate detection: the importer's index and the duplicate finder."""

from __future__ import annotations

import pytest

from revline.crm.dedup import (
    MatchIndex,
    Ref,
    duplicate_candidates,
    lead_fuzzy_key,
    norm_company,
    norm_person,
    norm_text,
)
from revline.crm.merge import lead_merge
from revline.crm.names import normalize_company, normalize_person, normalize_text
from tests.crm.factories import make_account, make_contact, make_lead


@pytest.mark.parametrize(
    "text",
    [
        "Acme Corp.",
        "ACME Corporation",
        "AT&T Inc",
        "Café René GmbH",
        "  Foo_bar-baz ",
        "The Group",
        "",
    ],
)
def test_fast_normalisation_matches_the_shared_one(text):
    assert norm_text(text) == normalize_text(text)
    assert norm_company(text) == normalize_company(text)
    assert norm_person(text, "Smith") == normalize_person(text, "Smith")


def test_index_matches_id_then_key_then_name():
    index = MatchIndex()
    ann = Ref(id=1, email="ann@x.test")
    bob = Ref(id=2, email="bob@x.test")
    index.add(ann, ext="A1", key="ann@x.test", fuzzy=lead_fuzzy_key("Ann", "Able", "Acme"))
    index.add(bob, ext="B1", key="bob@x.test", fuzzy=lead_fuzzy_key("Bob", "Baker", "Acme"))
    assert index.match(ext="B1", key="ann@x.test") == (bob, "external_id")
    assert index.match(ext="Z", key="ann@x.test") == (ann, "key")
    assert index.match(fuzzy=lead_fuzzy_key("Anne", "Able", "Acme Inc")) == (ann, "name")
    # the same name under another address is another person
    assert index.match(fuzzy=lead_fuzzy_key("Ann", "Able", "Acme"), email="other@x.test") == (
        None,
        "",
    )
    # other company, other block
    assert index.match(fuzzy=lead_fuzzy_key("Ann", "Able", "Globex")) == (None, "")


def test_index_looks_past_a_name_with_another_address():
    index = MatchIndex()
    first = Ref(id=1, email="a@x.test")
    second = Ref(id=2, email="")
    key = lead_fuzzy_key("Ann", "Able", "Acme")
    index.add(first, fuzzy=key)
    index.add(second, fuzzy=key)
    assert index.match(fuzzy=key, email="b@x.test") == (second, "name")


@pytest.mark.django_db
def test_duplicate_candidates_for_leads(org, django_assert_max_num_queries):
    ae1 = org["ae1"]
    a = make_lead(ae1, email="same@x.test", first_name="Ann", last_name="Able", company="Acme")
    b = make_lead(ae1, email="same@x.test", first_name="Ann", last_name="Other", company="Beta")
    c = make_lead(ae1, email="", first_name="Bob", last_name="Baker", company="Globex Inc")
    d = make_lead(ae1, email="", first_name="Bobb", last_name="Baker", company="Globex")
    make_lead(ae1, email="solo@x.test", first_name="Zed", last_name="Zulu", company="Zeta")
    duplicate_candidates(user=ae1.holder, entity="lead")  # warm the content-type cache
    with django_assert_max_num_queries(4):
        groups = duplicate_candidates(user=ae1.holder, entity="lead")
    found = {(g.reason, tuple(sorted(r.pk for r in g.records))) for g in groups}
    assert found == {("email", (a.pk, b.pk)), ("name", (c.pk, d.pk))}
    name_group = next(g for g in groups if g.reason == "name")
    assert 90 <= name_group.score < 100


@pytest.mark.django_db
def test_duplicate_candidates_respect_visibility_and_merges(org):
    make_lead(org["ae1"], email="same@x.test")
    make_lead(org["ae3"], email="same@x.test")
    assert duplicate_candidates(user=org["ae1"].holder, entity="lead") == []
    groups = duplicate_candidates(user=org["vp"].holder, entity="lead")
    assert len(groups) == 1
    keep, gone = groups[0].records
    lead_merge(keep=keep, merge=gone, by=org["vp"].holder)
    assert duplicate_candidates(user=org["vp"].holder, entity="lead") == []


@pytest.mark.django_db
def test_duplicate_candidates_for_accounts_and_contacts(org):
    owner = org["ae1"]
    acme = make_account(owner, name="Acme Corp.")
    acme2 = make_account(owner, name="ACME Corporation")
    globex = make_account(owner, name="Globex Industries")
    globex2 = make_account(owner, name="Globex Industrie")
    make_account(owner, name="Initech")
    groups = duplicate_candidates(user=owner.holder, entity="account")
    found = {tuple(sorted(r.pk for r in g.records)) for g in groups}
    assert found == {(acme.pk, acme2.pk), (globex.pk, globex2.pk)}

    c1 = make_contact(owner, first_name="Ann", last_name="Able", email="", account=acme)
    c2 = make_contact(owner, first_name="Ann", last_name="Able", email="", account=acme)
    make_contact(owner, first_name="Ann", last_name="Able", email="", account=globex)
    groups = duplicate_candidates(user=owner.holder, entity="contact")
    assert [sorted(r.pk for r in g.records) for g in groups] == [sorted([c1.pk, c2.pk])]
    with pytest.raises(ValueError):
        duplicate_candidates(user=owner.holder, entity="opportunity")
