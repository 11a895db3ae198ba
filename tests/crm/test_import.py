"""CSV import through the service (``revline.crm.importer``): bad rows, duplicates, policies,
all-or-nothing, custom fields, visibility, value parsing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from revline.core.models import AuditEvent
from revline.crm import importer
from revline.crm.choices import DuplicatePolicy, ImportMode, ImportStatus, LeadStatus
from revline.crm.models import (
    Account,
    Contact,
    CustomFieldDefinition,
    ImportMapping,
    Lead,
    LeadStatusChange,
)
from revline.pipeline.models import Opportunity, Product, StageChange
from tests.crm.factories import make_account, make_lead
from tests.crm.import_helpers import reasons, run_import, write_csv

pytestmark = pytest.mark.django_db

HEADER = ["Email", "First Name", "Last Name", "Company", "Employees", "Annual Revenue"]


@pytest.fixture
def admin(org):
    return org["revops"].holder


@pytest.fixture(params=["preloaded", "per batch"])
def lookups(request, monkeypatch):
    """Both ways of finding existing records: a small table read whole before the rows, and a
    large one queried batch by batch (what a table above ``PRELOAD_MAX`` records gets)."""
    if request.param == "per batch":
        monkeypatch.setattr(importer, "PRELOAD_MAX", 0)
    return request.param


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            HEADER,
            ["a@x.test", "Ann", "Able", "Acme", "10", "$1,234.50"],  # line 2: good
            ["not-an-email", "Bob", "Baker", "Beta", "5", "100"],  # 3: bad e-mail
            ["c@x.test", "Cy", "Cole", "Gamma", "-3", "100"],  # 4: negative
            ["d@x.test", "Di", "Dune", "Delta", "lots", "100"],  # 5: not a number
            ["e@x.test", "Ed", "Eel"],  # 6: short row
            ["f@x.test", "Fay", "Fox", "Phi", "NA", "N/A"],  # 7: good, placeholders
            ["", "", "", "", "", ""],  # 8: a blank line is not a row
            ["", "", "", "", "unknown", ""],  # 9: nothing that identifies a lead
            ["g@x.test", "Gil", "Gray", "G" * 201, "1", "1"],  # 10: company too long
        ],
    )
    job = run_import(user=admin, entity="lead", path=path)
    assert job.status == ImportStatus.DONE
    assert (job.created, job.failed, job.rows_done) == (2, 6, 8)
    bad = reasons(job)
    assert set(bad) == {3, 4, 5, 6, 9, 10}
    assert bad[10] == "Company: is longer than 200 characters"
    assert "not-an-email" in bad[3] and "e-mail" in bad[3]
    assert "Employees" in bad[4] and "out of range" in bad[4]
    assert "not a number" in bad[5]
    assert "3 columns" in bad[6]
    assert "needs a name" in bad[9]
    assert {e["column"] for e in job.errors if e["line"] in (3, 4, 5)} == {
        "Email",
        "Employees",
    }
    ann = Lead.objects.get(email="a@x.test")
    assert ann.annual_revenue == Decimal("1234.50") and ann.employees == 10
    fay = Lead.objects.get(email="f@x.test")
    assert fay.employees is None and fay.annual_revenue is None
    assert Lead.objects.count() == 2


def test_all_or_nothing_rolls_back_everything(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["Email", "Last Name", "Shoe size"],
            ["a@x.test", "Able", "42"],
            ["b@x.test", "Baker", "41"],
            ["broken", "Cole", "40"],
        ],
    )
    job = run_import(
        user=admin,
        entity="lead",
        path=path,
        mode=ImportMode.ALL_OR_NOTHING,
        create_custom_fields=True,
    )
    assert job.status == ImportStatus.FAILED
    assert "nothing was imported" in job.message
    assert (job.created, job.failed) == (0, 1)
    assert reasons(job).keys() == {4}
    assert not Lead.objects.exists()
    assert not LeadStatusChange.objects.exists()
    assert not CustomFieldDefinition.objects.exists()  # rolled back with the rows
    assert not AuditEvent.objects.filter(action="import.run").exists()


def test_all_or_nothing_without_bad_rows_imports_everything(admin, tmp_path):
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "Able"], ["b@x.test", "B"]])
    job = run_import(user=admin, entity="lead", path=path, mode=ImportMode.ALL_OR_NOTHING)
    assert job.status == ImportStatus.DONE and job.created == 2
    assert Lead.objects.count() == 2


@pytest.mark.usefixtures("lookups")
def test_reimport_creates_no_duplicates(admin, tmp_path):
    rows = [
        ["Lead ID", "Email", "First Name", "Last Name", "Company"],
        ["L1", "a@x.test", "Ann", "Able", "Acme"],
        ["L2", "", "Bob", "Baker", "Beta Ltd"],  # no e-mail: matched by id, then by name
        ["", "c@x.test", "Cy", "Cole", ""],  # no id: matched by e-mail
        ["", "", "Dee", "Dune", "Delta"],  # neither: matched by name and company
    ]
    path = write_csv(tmp_path, rows)
    first = run_import(user=admin, entity="lead", path=path)
    assert first.created == 4
    again = run_import(user=admin, entity="lead", path=path)
    assert (again.created, again.skipped, again.failed) == (0, 4, 0)
    assert Lead.objects.count() == 4
    assert Lead.objects.get(email="a@x.test").external_id == "L1"


@pytest.mark.usefixtures("lookups")
@pytest.mark.parametrize("preload", [True, False])
def test_rows_with_an_address_match_by_name_the_records_they_may_be(
    admin, org, tmp_path, monkeypatch, preload
):
    """By name, a row with an e-mail address matches a record without one, or one whose
    address is stored in capitals; never a record with another address. Whether the table
    is read whole first or looked up batch by batch."""
    if not preload:
        monkeypatch.setattr(importer, "PRELOAD_MAX", 0)
    capitals = make_lead(org["revops"], first_name="Ann", last_name="Able", company="Acme")
    # the services store addresses in lower case; older or hand-made rows may not
    Lead.objects.filter(pk=capitals.pk).update(email="Ann@X.test")
    bare = make_lead(org["revops"], first_name="Bob", last_name="Baker", company="Beta", email="")
    make_lead(org["revops"], first_name="Cy", last_name="Cole", company="Core", email="cy@x.test")
    path = write_csv(
        tmp_path,
        [
            ["Email", "First Name", "Last Name", "Company", "Title"],
            ["ann@x.test", "Anne", "Able", "Acme", "CEO"],  # its own address, in capitals
            ["bob@x.test", "Bob", "Bakker", "Beta", "CFO"],  # the record has no address
            ["cyrus@x.test", "Cy", "Cole", "Core", "CTO"],  # another address: another person
        ],
    )
    job = run_import(user=admin, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE)
    assert (job.created, job.updated, job.failed) == (1, 2, 0)
    capitals.refresh_from_db()
    bare.refresh_from_db()
    assert (capitals.title, bare.title, bare.email) == ("CEO", "CFO", "bob@x.test")
    assert Lead.objects.get(email="cyrus@x.test").title == "CTO"


@pytest.mark.usefixtures("lookups")
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_record_keeps_its_old_address_as_a_key_after_a_row_changes_it(
    admin, org, tmp_path, monkeypatch, dry_run
):
    """A row matched by source id changes a lead's address; a later row (another batch) with
    the old address and the lead's name is still that lead, on a dry run and a real one."""
    monkeypatch.setattr(importer, "PRELOAD_MAX", 0)
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    lead = make_lead(
        org["revops"],
        first_name="Ann",
        last_name="Able",
        company="Acme",
        email="ann@x.test",
        external_id="L1",
    )
    path = write_csv(
        tmp_path,
        [
            ["Lead ID", "Email", "First Name", "Last Name", "Company", "Title"],
            ["L9", "zed@x.test", "Zed", "Zulu", "Zeta", ""],
            ["L1", "ann@new.test", "Ann", "Able", "Acme", "CEO"],
            ["", "ann@x.test", "Ann", "Able", "Acme", "CTO"],
        ],
    )
    job = run_import(
        user=admin,
        entity="lead",
        path=path,
        duplicate_policy=DuplicatePolicy.UPDATE,
        dry_run=dry_run,
    )
    assert (job.created, job.updated, job.failed) == (1, 2, 0)
    if not dry_run:
        lead.refresh_from_db()
        assert (lead.email, lead.title) == ("ann@x.test", "CTO")  # the last row wins
        assert Lead.objects.count() == 2


@pytest.mark.usefixtures("lookups")
def test_duplicates_inside_one_file(admin, tmp_path):
    rows = [
        ["Email", "First Name", "Last Name", "Company"],
        ["a@x.test", "Ann", "Able", "Acme"],
        ["A@X.TEST", "Ann", "Able", "Acme"],  # same e-mail, other case
        ["", "Anne", "Able", "Acme Inc."],  # close name at the same company
        ["b@x.test", "Ann", "Able", "Acme"],  # same name but another address: another person
    ]
    path = write_csv(tmp_path, rows)
    job = run_import(user=admin, entity="lead", path=path)
    assert (job.created, job.skipped) == (2, 2)
    assert sorted(Lead.objects.values_list("email", flat=True)) == ["a@x.test", "b@x.test"]

    create = run_import(
        user=admin, entity="lead", path=path, duplicate_policy=DuplicatePolicy.CREATE
    )
    assert create.created == 4


@pytest.mark.usefixtures("lookups")
def test_fuzzy_company_match_for_accounts(admin, org, tmp_path):
    acme = make_account(org["revops"], name="Acme Corp.")
    globex = make_account(org["revops"], name="Globex Industries")
    path = write_csv(
        tmp_path,
        [
            ["Account", "Industry"],
            ["ACME Corporation", "Retail"],
            ["Globex Industrie", "Energy"],
            ["Initech", "Software"],
        ],
    )
    job = run_import(
        user=admin, entity="account", path=path, duplicate_policy=DuplicatePolicy.UPDATE
    )
    assert (job.created, job.updated, job.failed) == (1, 2, 0)
    acme.refresh_from_db()
    globex.refresh_from_db()
    assert acme.sector == "Retail" and acme.name == "ACME Corporation"
    assert globex.sector == "Energy"
    assert Account.objects.count() == 3
    assert Account.objects.get(name="Initech").normalized_name == "initech"


@pytest.mark.usefixtures("lookups")
def test_update_policy_updates_and_blank_cells_change_nothing(admin, org, tmp_path):
    CustomFieldDefinition.objects.create(
        entity="lead", key="score", label="Score", field_type="integer"
    )
    lead = make_lead(org["revops"], email="a@x.test", title="CTO", phone="123", custom={"score": 1})
    path = write_csv(
        tmp_path,
        [
            ["Email", "Title", "Phone", "Score", "Country"],
            ["a@x.test", "CEO", "", "7", "Germany"],
        ],
    )
    job = run_import(
        user=admin,
        entity="lead",
        path=path,
        duplicate_policy=DuplicatePolicy.UPDATE,
        mapping={
            "Email": "email",
            "Title": "title",
            "Phone": "phone",
            "Score": "custom:score",
            "Country": "country",
        },
    )
    assert (job.updated, job.created) == (1, 0)
    lead.refresh_from_db()
    assert (lead.title, lead.phone, lead.country) == ("CEO", "123", "Germany")
    assert lead.custom == {"score": 7}
    assert lead.status == LeadStatus.NEW  # updates never move a lead's status


@pytest.mark.usefixtures("lookups")
def test_per_row_policy_overrides_the_job(admin, org, tmp_path):
    make_lead(org["revops"], email="a@x.test", title="CTO")
    make_lead(org["revops"], email="b@x.test", title="CTO")
    path = write_csv(
        tmp_path,
        [
            ["Email", "Title", "On duplicate"],
            ["a@x.test", "CEO", "update"],
            ["b@x.test", "CEO", ""],
            ["c@x.test", "CEO", "sometimes"],
        ],
    )
    job = run_import(user=admin, entity="lead", path=path)
    assert (job.updated, job.skipped, job.failed) == (1, 1, 1)
    assert Lead.objects.get(email="a@x.test").title == "CEO"
    assert Lead.objects.get(email="b@x.test").title == "CTO"
    assert "skip, update or create" in reasons(job)[4]


def test_custom_fields_are_created_and_typed(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["Email", "Last Name", "Visits", "Ratio", "Signed up", "Newsletter", "Plan", "Zip"],
            ["a@x.test", "A", "3", "2.5", "31/12/2024", "yes", "Gold", "01234"],
            ["b@x.test", "B", "1,200", "1", "01/02/2024", "No", "Select", "99999"],
            ["c@x.test", "C", "NA", "", "", "", "Silver", "12345"],
        ],
    )
    job = run_import(user=admin, entity="lead", path=path, create_custom_fields=True)
    assert job.status == ImportStatus.DONE and job.created == 3, job.errors
    types = dict(
        CustomFieldDefinition.objects.filter(entity="lead").values_list("key", "field_type")
    )
    assert types == {
        "visits": "integer",
        "ratio": "number",
        "signed_up": "date",
        "newsletter": "boolean",
        "plan": "text",
        "zip": "text",  # a leading zero: a code, not a number
    }
    a = Lead.objects.get(email="a@x.test").custom
    assert a == {
        "visits": 3,
        "ratio": 2.5,
        "signed_up": "2024-12-31",
        "newsletter": True,
        "plan": "Gold",
        "zip": "01234",
    }
    b = Lead.objects.get(email="b@x.test").custom
    assert b["visits"] == 1200 and b["signed_up"] == "2024-02-01"  # d/m/Y read for the column
    assert b["newsletter"] is False and "plan" not in b  # "Select" is missing
    assert Lead.objects.get(email="c@x.test").custom == {"plan": "Silver", "zip": "12345"}


def test_without_custom_fields_unmapped_columns_are_ignored(admin, tmp_path):
    path = write_csv(tmp_path, [["Email", "Last Name", "Visits"], ["a@x.test", "A", "3"]])
    job = run_import(user=admin, entity="lead", path=path)
    assert job.created == 1
    assert Lead.objects.get().custom == {}
    assert not CustomFieldDefinition.objects.exists()


@pytest.mark.usefixtures("lookups")
def test_a_user_cannot_update_records_they_cannot_change(org, tmp_path):
    theirs = make_lead(org["ae3"], email="x@y.test", first_name="Zed", last_name="Secret")
    ae1 = org["ae1"].holder
    path = write_csv(tmp_path, [["Email", "Title"], ["x@y.test", "Hacked"]])
    job = run_import(user=ae1, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE)
    assert (job.updated, job.created, job.failed) == (0, 0, 1)
    reason = reasons(job)[2]
    assert "already exists that you cannot see or change" in reason
    assert "Zed" not in reason and "Secret" not in reason and str(theirs.pk) not in reason
    theirs.refresh_from_db()
    assert theirs.title == ""
    assert Lead.objects.count() == 1

    # Marketing sees every lead but changes none: the same conflict.
    marketing = org["mkt"].holder
    job = run_import(
        user=marketing, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE
    )
    assert job.failed == 1 and "cannot see or change" in reasons(job)[2]

    # Their manager may change it.
    manager = org["m2"].holder
    job = run_import(
        user=manager, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE
    )
    assert job.updated == 1
    theirs.refresh_from_db()
    assert theirs.title == "Hacked"


def test_owner_column_by_email_full_name_or_position_id(admin, org, tmp_path):
    ae1, ae2, ae3 = org["ae1"], org["ae2"], org["ae3"]
    path = write_csv(
        tmp_path,
        [
            ["Email", "Last Name", "Owner"],
            ["a@x.test", "A", ae1.holder.email.upper()],
            ["b@x.test", "B", ae2.holder.full_name],
            ["c@x.test", "C", str(ae3.pk)],
            ["d@x.test", "D", "nobody@nowhere.test"],
            ["e@x.test", "E", ""],
        ],
    )
    job = run_import(user=admin, entity="lead", path=path)
    assert job.created == 4 and reasons(job).keys() == {5}
    owners = dict(Lead.objects.values_list("email", "owner_position_id"))
    assert owners["a@x.test"] == ae1.pk and owners["b@x.test"] == ae2.pk
    assert owners["c@x.test"] == ae3.pk and owners["e@x.test"] == org["revops"].pk


def test_a_rep_may_only_assign_records_to_their_own_positions(org, tmp_path):
    ae1 = org["ae1"]
    path = write_csv(
        tmp_path,
        [
            ["Email", "Last Name", "Owner"],
            ["a@x.test", "A", ""],
            ["b@x.test", "B", org["ae2"].holder.email],
        ],
    )
    job = run_import(user=ae1.holder, entity="lead", path=path)
    assert job.created == 1 and "no position you may assign" in reasons(job)[3]
    assert Lead.objects.get().owner_position == ae1
    with pytest.raises(ValidationError):
        importer.import_job_create(
            by=ae1.holder, entity="lead", file_path=path, owner_position=org["ae2"]
        )


def test_lead_status_history_outcome_and_source(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["Prospect ID", "Converted", "Lead Source"],
            ["p1", "1", "Google"],
            ["p2", "0", "Olark Chat"],
            ["p3", "", "Google"],
        ],
        name="Leads.csv",
    )
    job = run_import(
        user=admin,
        entity="lead",
        path=path,
        mapping={"Prospect ID": "external_id", "Converted": "outcome"},
        source_name="X Education",
        create_custom_fields=True,
    )
    assert job.created == 3, job.errors
    leads = {lead.external_id: lead for lead in Lead.objects.all()}
    assert leads["p1"].status == LeadStatus.CONVERTED and leads["p1"].outcome is True
    assert leads["p2"].status == LeadStatus.DISQUALIFIED and leads["p2"].outcome is False
    assert leads["p3"].status == LeadStatus.NEW and leads["p3"].outcome is None
    assert {lead.source for lead in leads.values()} == {"import"}
    assert {lead.source_name for lead in leads.values()} == {"X Education"}
    assert leads["p2"].custom == {"lead_source": "Olark Chat"}
    history = {c.lead.external_id: c for c in LeadStatusChange.objects.select_related("lead")}
    assert history["p1"].to_status == LeadStatus.CONVERTED and history["p1"].from_status == ""
    assert history["p1"].by == admin and history["p3"].to_status == LeadStatus.NEW
    # one audit event for the whole job, not one per row
    events = AuditEvent.objects.filter(action="import.run")
    assert events.count() == 1
    assert events.get().changes["created"] == [0, 3]
    assert not AuditEvent.objects.filter(action="lead.create").exists()


def test_dry_run_writes_nothing_and_previews(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [["Email", "Last Name", "Plan"], ["a@x.test", "A", "Gold"], ["bad", "B", "x"]],
    )
    job = run_import(user=admin, entity="lead", path=path, dry_run=True, create_custom_fields=True)
    assert job.status == ImportStatus.DONE and job.dry_run
    assert (job.created, job.failed) == (1, 1)
    assert job.preview[0]["action"] == "create"
    assert job.preview[0]["values"]["email"] == "a@x.test"
    assert job.preview[0]["values"]["custom"] == {"plan": "Gold"}
    assert "Dry run" in job.message and "plan (text)" in job.message
    assert not Lead.objects.exists() and not CustomFieldDefinition.objects.exists()
    assert not ImportMapping.objects.exists()


def test_mapping_is_suggested_then_saved_per_file_shape(admin, tmp_path):
    header = ["E-mail Address", "Surname", "Organisation", "Mystery"]
    assert importer.mapping_suggest("lead", header) == {
        "E-mail Address": "email",
        "Surname": "last_name",
        "Organisation": "company",
    }
    path = write_csv(tmp_path, [header, ["a@x.test", "A", "Acme", "?"]])
    run_import(
        user=admin,
        entity="lead",
        path=path,
        mapping={"E-mail Address": "email", "Surname": "last_name", "Mystery": "title"},
    )
    saved = ImportMapping.objects.get()
    assert saved.header_signature == importer.header_signature(header)
    assert (
        importer.mapping_for("lead", [" e-mail address", "SURNAME", "organisation", "mystery"])
        != {}
    )
    assert importer.mapping_for("lead", header)["Mystery"] == "title"
    with pytest.raises(ValidationError) as caught:
        importer.mapping_check("lead", header, {"Nope": "email", "Surname": "shoe_size"})
    assert set(caught.value.message_dict) == {"mapping.Nope", "mapping.Surname"}


@pytest.mark.usefixtures("lookups")
def test_values_dates_amounts_and_booleans(admin, org, tmp_path):
    Product.objects.create(name="GTX Pro", code="GTXP")
    make_account(org["revops"], name="Acme Corp.", external_id="A-1")
    path = write_csv(
        tmp_path,
        [
            ["Deal", "Account", "Stage", "Amount", "Close date", "Product", "Owner"],
            ["Big deal", "A-1", "Won", "€ 1.234,50", "03/04/2024", "gtxp", org["ae1"].holder.email],
            ["Small", "ACME Corporation", "Demo", "(12)", "04/13/2024", "GTX Pro", ""],
            ["Odd", "Nobody Inc", "Discovery", "5", "2024-02-30", "Nope", ""],
            ["", "", "", "100", "", "", ""],
        ],
    )
    job = run_import(user=admin, entity="opportunity", path=path)
    assert job.created == 1, job.errors
    bad = reasons(job)
    assert "cannot be negative" in bad[3]
    assert "no account" in bad[4] and "not a date" in bad[4] and "no product" in bad[4]
    assert "needs a name" in bad[5]
    deal = Opportunity.objects.get()
    assert deal.amount == Decimal("1234.50") and deal.status == "won"
    assert deal.close_date == dt.date(2024, 3, 4)  # m/d/Y: the column has a 13 in second place
    assert deal.closed_on == deal.close_date and deal.probability == 100
    assert deal.owner_position == org["ae1"] and deal.product.code == "GTXP"
    assert StageChange.objects.get().to_stage == deal.stage


def test_parsers():
    assert importer.parse_decimal("1,234.50") == Decimal("1234.50")
    assert importer.parse_decimal("$ 12") == Decimal("12")
    assert importer.parse_decimal("USD 1,200") == Decimal("1200")
    assert importer.parse_decimal("12,5") == Decimal("12.5")
    assert importer.parse_decimal("(300)") == Decimal("-300")
    assert importer.parse_int("1,000") == 1000
    for bad in ("abc", "NaN", "1,2,3.4.5"):
        with pytest.raises(ValueError):
            importer.parse_decimal(bad)
    with pytest.raises(ValueError):
        importer.parse_int("1.5")
    assert importer.parse_date("2024-12-31") == dt.date(2024, 12, 31)
    assert importer.parse_date("31/12/2024", "dmy") == dt.date(2024, 12, 31)
    assert importer.parse_date("12/31/24") == dt.date(2024, 12, 31)
    assert importer.parse_date("2024/1/5") == dt.date(2024, 1, 5)
    for word, value in [("Yes", True), ("won", True), ("0", False), ("LOST", False)]:
        assert importer.parse_bool(word) is value
    with pytest.raises(ValueError):
        importer.parse_bool("maybe")


def test_contacts_with_accounts_and_names(admin, org, tmp_path):
    make_account(org["revops"], name="Acme Corp.")
    path = write_csv(
        tmp_path,
        [
            ["Name", "Email", "Company"],
            ["Ann Able", "ann@acme.test", "acme"],
            ["Madonna", "m@x.test", ""],
            ["Bob Baker", "bob@x.test", "Unknown Co"],
        ],
    )
    job = run_import(user=admin, entity="contact", path=path)
    assert job.created == 2 and "no account" in reasons(job)[4]
    ann = Contact.objects.get(email="ann@acme.test")
    assert (ann.first_name, ann.last_name, ann.account.name) == ("Ann", "Able", "Acme Corp.")
    assert Contact.objects.get(email="m@x.test").last_name == "Madonna"


def test_quoted_newlines_keep_line_numbers(admin, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('Email,Last Name,Title\n"a@x.test",A,"two\nlines"\nbad,B,x\n', encoding="utf-8")
    job = run_import(user=admin, entity="lead", path=path)
    assert job.created == 1 and reasons(job).keys() == {4}
    assert Lead.objects.get().title == "two\nlines"


def test_semicolons_and_latin1_are_read(admin, tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes("Email;Last Name;Company\na@x.test;Müller;Café\n".encode("latin-1"))
    job = run_import(user=admin, entity="lead", path=path)
    assert job.created == 1, job.errors
    lead = Lead.objects.get()
    assert (lead.last_name, lead.company) == ("Müller", "Café")


@pytest.mark.usefixtures("lookups")
def test_reimport_lands_on_the_record_a_duplicate_was_merged_into(admin, org, tmp_path):
    from revline.crm.merge import lead_merge

    keep = make_lead(org["revops"], email="keep@x.test", external_id="K")
    gone = make_lead(org["revops"], email="gone@x.test", external_id="G")
    lead_merge(keep=keep, merge=gone, by=admin)
    path = write_csv(tmp_path, [["ID", "Email", "Title"], ["G", "gone@x.test", "CFO"]])
    job = run_import(user=admin, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE)
    assert (job.created, job.updated) == (0, 1)
    keep.refresh_from_db()
    assert keep.title == "CFO"


def test_a_job_runs_once(admin, tmp_path):
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "A"]])
    job = run_import(user=admin, entity="lead", path=path)
    again = importer.import_job_run(job=job)
    assert again.status == ImportStatus.DONE and Lead.objects.count() == 1


def test_a_missing_file_fails_the_job(admin, tmp_path):
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "A"]])
    job = importer.import_job_create(
        by=admin,
        entity="lead",
        file_path=path,
        owner_position=importer.import_default_owner(user=admin),
    )
    path.unlink()
    job = importer.import_job_run(job=job)
    assert job.status == ImportStatus.FAILED and "no longer there" in job.message


def test_default_owner_for_an_admin_without_positions(db):
    from revline.org.models import Position, User

    admin = User.objects.create_superuser("root@x.test", "pw")
    first = importer.import_default_owner(user=admin)
    assert first.title == importer.IMPORTED_RECORDS_TITLE and first.holder == admin
    assert first.role == "revops"
    assert importer.import_default_owner(user=admin) == first
    assert Position.objects.count() == 1
    rep = User.objects.create_user("rep@x.test", "pw")
    with pytest.raises(ValidationError):
        importer.import_default_owner(user=rep)


def test_the_files_creation_dates_are_kept(admin, org, tmp_path):
    """A history import keeps each row's Created date (bulk_create alone would stamp the time
    of saving), on accounts and opportunities as on leads."""
    accounts = write_csv(
        tmp_path, [["Name", "Created"], ["Old Co", "2019-05-06"], ["New Co", ""]], "a.csv"
    )
    assert run_import(user=admin, entity="account", path=accounts).created == 2
    old, new = Account.objects.get(name="Old Co"), Account.objects.get(name="New Co")
    assert old.created_at.date() == dt.date(2019, 5, 6)
    assert new.created_at.date() == timezone.localdate()
    deals = write_csv(
        tmp_path,
        [["Deal", "Account", "Stage", "Amount", "Created"], ["Renewal", "Old Co", "Demo", "9",
                                                            "2020-01-02"]],
        "d.csv",
    )  # fmt: skip
    job = run_import(user=admin, entity="opportunity", path=deals)
    assert job.created == 1, job.errors
    assert Opportunity.objects.get().created_at.date() == dt.date(2020, 1, 2)
