"""Rule 6 of the visibility predicate (an account seen through its deals and complaints) gives
the same accounts however it is read: a page, the whole list, a count, one record, ``can``.

On PostgreSQL the rule is written two ways (``org.visibility.InSubqueryPaged``): a sliced query
(a page, ``get``, ``exists``) hashes the accounts once, an unsliced one (a count, an export)
lets their ids drive the primary key's index. Only the plan may differ, never the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revline.crm import selectors
from revline.crm import services as crm
from revline.crm.models import Account
from revline.org.visibility import can
from tests.crm.factories import make_account, make_opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(sales_org):
    """Accounts owned under Manager 2 that Manager 1's team reaches only through a deal or a
    complaint of theirs, plus accounts nobody under Manager 1 touches."""
    o = sales_org
    own = make_account(o["ae1"], name="A own")
    via_deal = make_account(o["ae3"], name="B via deal")
    make_opportunity(o["ae1"], name="Deal on B", account=via_deal)
    via_complaint = make_account(o["ae4"], name="C via complaint")
    crm.complaint_create(
        by=None,
        owner_position=o["cs"],
        account=via_complaint,
        subject="Late delivery",
        raised_at=timezone.now(),
    )
    hidden = make_account(o["ae3"], name="D hidden")
    make_opportunity(o["ae3"], name="Deal on D", account=hidden)
    other = make_account(o["ae3"], name="E other")
    return {
        "own": own,
        "via_deal": via_deal,
        "via_complaint": via_complaint,
        "hidden": hidden,
        "other": other,
    }


EXPECTED = {
    "ae1": {"A own", "B via deal"},
    "ae2": set(),
    "m1": {"A own", "B via deal"},
    "cs": {"C via complaint"},
    "ae3": {"B via deal", "D hidden", "E other"},
    "vp": {"A own", "B via deal", "C via complaint", "D hidden", "E other"},
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_a_page_the_whole_list_a_count_and_one_record_agree(sales_org, accounts, who):
    user = sales_org[who].holder
    qs = selectors.accounts_list(user=user)
    whole = {a.name for a in qs}
    page = {a.name for a in qs[:50]}
    assert whole == page == EXPECTED[who]
    assert qs.count() == len(EXPECTED[who])
    for account in accounts.values():
        seen = account.name in EXPECTED[who]
        assert can(user, "view", account) is seen
        assert Account.objects.visible_to(user).filter(pk=account.pk).exists() is seen
        if seen:
            assert selectors.account_get(user=user, pk=account.pk) == account
        else:
            with pytest.raises(Account.DoesNotExist):
                selectors.account_get(user=user, pk=account.pk)


def test_rule_6_lends_view_never_change(sales_org, accounts):
    user = sales_org["ae1"].holder
    assert can(user, "view", accounts["via_deal"])
    assert not can(user, "change", accounts["via_deal"])
    assert can(user, "change", accounts["own"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL renders rule 6 twice")
def test_a_page_hashes_the_accounts_and_a_count_drives_the_index(sales_org, accounts):
    qs = selectors.accounts_list(user=sales_org["m1"].holder)
    with CaptureQueriesContext(connection) as page:
        list(qs[:50])
    with CaptureQueriesContext(connection) as count:
        qs.count()
    page_sql, count_sql = page.captured_queries[-1]["sql"], count.captured_queries[-1]["sql"]
    hashed = '"crm_account"."id" IN (SELECT'
    driven = '"crm_account"."id" = ANY(ARRAY(SELECT'
    # the page: the accounts of the team's deals and complaints, each a hashed IN
    assert page_sql.count(hashed) == 2
    # the count: the same two subqueries (and the shares) as arrays for the index
    assert hashed not in count_sql
    assert count_sql.count(driven) == 3


def test_a_link_column_answers_no_for_an_inactive_or_anonymous_user(org):
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import Value

    from revline.crm.models import Account
    from revline.org.visibility import visible_link
    from revline.pipeline.models import Opportunity

    gone = org["ae1"].holder
    gone.is_active = False
    for user in (gone, AnonymousUser(), None):
        column = visible_link(user, Account, "account_id", row_model=Opportunity)
        assert isinstance(column, Value) and column.value is False
