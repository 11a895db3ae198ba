"""The RevOps pipeline set-up: pipelines and stages, products, price books, discount policy,
competitors. Organisation admins only (404 for everyone else); every write audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from revline.core.models import AuditEvent
from revline.pipeline import configuration
from revline.pipeline.models import Competitor, Pipeline, PriceBookEntry, Product, Stage
from revline.pipeline.quoting import discount_policy
from tests.web.pipeline_helpers import (
    as_user,
    build_catalog,
    make_opportunity,
    stage,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    return build_catalog()


def admin_urls(sales_org, catalog):
    pipeline = sales_org["pipeline"]
    first = pipeline.stages.first()
    entry = PriceBookEntry.objects.first()
    competitor = configuration.competitor_save(by=None, name="Acme")
    return [
        url("pipeline_admin"),
        url("pipeline_stages", pipeline.pk),
        url("stage_add", pipeline.pk),
        url("stage_edit", first.pk),
        url("stage_delete", first.pk),
        url("products_admin"),
        url("product_edit", catalog["seats"].pk),
        url("price_books_admin"),
        url("price_book_admin", catalog["book"].pk),
        url("price_entry_remove", entry.pk),
        url("discount_policy_admin"),
        url("competitors_admin"),
        url("competitor_edit", competitor.pk),
    ]


@pytest.mark.parametrize("who", ["ae1", "m1", "vp", "cso", "ceo"])
def test_set_up_is_404_for_everyone_but_revops(client, sales_org, catalog, who):
    client = as_user(client, sales_org[who])
    for target in admin_urls(sales_org, catalog):
        assert client.get(target).status_code == 404, target
        assert client.post(target, {"name": "x"}).status_code == 404, target
    assert Stage.objects.count() == 7 and Product.objects.count() == 2


def test_set_up_redirects_anonymous_to_login(client, sales_org):
    response = client.get(url("pipeline_admin"))
    assert response.status_code == 302 and url("login") in response["Location"]


def test_set_up_pages_open_for_revops(client, sales_org, catalog):
    client = as_user(client, sales_org["revops"])
    post_only = ("/delete/", "/remove/", "/stages/new/")
    for target in admin_urls(sales_org, catalog):
        if "/admin/stages/" in target and not target.endswith("/delete/"):
            continue  # a stage is edited from its pipeline's page (POST only)
        expected = 405 if any(part in target for part in post_only) else 200
        assert client.get(target).status_code == expected, target


def test_create_a_pipeline_and_its_stages(client, sales_org):
    client = as_user(client, sales_org["revops"])
    response = client.post(url("pipeline_admin"), {"name": "Partners", "order": "20"})
    partners = Pipeline.objects.get(name="Partners")
    assert response["Location"] == url("pipeline_stages", partners.pk)
    assert not partners.is_default
    response = client.post(
        url("stage_add", partners.pk),
        {
            "new-name": "Intro",
            "new-kind": "open",
            "new-probability": "15",
            "new-forecast_category": "pipeline",
            "new-required_fields": ["account", "next_step"],
            "new-max_days": "21",
        },
    )
    assert response.status_code == 302
    intro = partners.stages.get(name="Intro")
    assert intro.required_fields == ["account", "next_step"] and intro.max_days == 21
    response = client.post(
        url("stage_edit", intro.pk),
        {
            f"s{intro.pk}-name": "Introduction",
            f"s{intro.pk}-kind": "open",
            f"s{intro.pk}-order": "5",
            f"s{intro.pk}-probability": "120",
            f"s{intro.pk}-forecast_category": "pipeline",
        },
    )
    assert response.status_code == 400  # probability out of range, shown on the form
    intro.refresh_from_db()
    assert intro.name == "Intro"
    assert AuditEvent.objects.filter(action="stage.create").exists()
    assert client.post(url("stage_delete", intro.pk)).status_code == 302
    assert not partners.stages.exists()


def test_a_used_stage_is_not_removed(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    client = as_user(client, sales_org["revops"])
    client.post(url("stage_delete", opp.stage_id))
    assert Stage.objects.filter(pk=opp.stage_id).exists()


def test_products_prices_discounts_competitors(client, sales_org, catalog):
    client = as_user(client, sales_org["revops"])
    response = client.post(
        url("products_admin"),
        {
            "name": "Analytics",
            "list_price": "250",
            "currency": "usd",
            "term_months": "12",
            "active": "on",
        },
    )
    assert response.status_code == 302
    analytics = Product.objects.get(name="Analytics")
    assert analytics.currency == "USD"
    assert (
        client.post(
            url("products_admin"),
            {"name": "analytics", "list_price": "1", "currency": "USD", "term_months": "12"},
        ).status_code
        == 400
    )

    book = catalog["book"]
    client.post(url("price_book_admin", book.pk), {"product": analytics.pk, "unit_price": "225"})
    assert PriceBookEntry.objects.get(price_book=book, product=analytics).unit_price == Decimal(
        "225"
    )
    entry = PriceBookEntry.objects.get(price_book=book, product=analytics)
    client.post(url("price_entry_remove", entry.pk))
    assert not PriceBookEntry.objects.filter(pk=entry.pk).exists()

    response = client.post(
        url("discount_policy_admin"), {"manager_threshold": "20", "vp_threshold": "10"}
    )
    assert response.status_code == 400
    client.post(url("discount_policy_admin"), {"manager_threshold": "12.5", "vp_threshold": "25"})
    policy = discount_policy()
    assert policy.manager_threshold == Decimal("12.5") and policy.vp_threshold == Decimal("25")

    client.post(url("competitors_admin"), {"name": "Umbrella", "website": "umbrella.test"})
    umbrella = Competitor.objects.get(name="Umbrella")
    client.post(url("competitor_edit", umbrella.pk), {"name": "Umbrella Corp"})
    umbrella.refresh_from_db()
    assert umbrella.name == "Umbrella Corp"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "product.create",
        "price_book.price",
        "discount_policy.update",
        "competitor.update",
    } <= actions


def test_stage_path_shows_what_a_stage_needs(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    html = as_user(client, sales_org["ae1"]).get(url("opportunity_detail", opp.pk)).content.decode()
    assert "needs a quote" not in html  # requirements are labelled, not raw keys
    assert "Move to Negotiation (80%): needs an amount, a quote" in html
    assert stage(sales_org["pipeline"], "Negotiation").required_fields == ["amount", "quote"]


def test_board_links_to_the_set_up_for_revops_only(client, sales_org):
    html = as_user(client, sales_org["revops"]).get(url("board")).content.decode()
    assert f'href="{url("pipeline_admin")}"' in html
    html = as_user(client, sales_org["m1"]).get(url("board")).content.decode()
    assert f'href="{url("pipeline_admin")}"' not in html
