"""The importer's fast paths give the answers the plain ones give: the batch-narrowed fuzzy
look-ups (``_ImportIndex``), the per-column cell caches, the COPY text on PostgreSQL (odd
characters, dates, amounts, custom values), several writer threads, the gathered pre-scan, and
the garbage collector left as it was."""

from __future__ import annotations

import datetime as dt
import gc
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from revline.crm import importer
from revline.crm.choices import DuplicatePolicy, ImportStatus, LeadStatus
from revline.crm.dedup import MatchIndex, Ref, lead_fuzzy_key
from revline.crm.models import Lead, LeadStatusChange
from revline.org.models import User
from tests.crm.import_helpers import reasons, run_import, write_csv

FIRST = ["Ann", "Anne", "Anna", "Bob", "Rob", "Robert", "José", "Zoë", "Li", "Mary-Jo"]
LAST = ["Able", "Abel", "Baker", "Bakker", "Cole", "Kohl", "Müller", "Mueller", "O'Neil"]
COMPANY = ["Acme", "Acme Inc.", "ACME Corp", "Acne", "Globex", "Globex Industries", ""]


def _people(n: int, seed: int) -> list[tuple[tuple[str, str] | None, str]]:
    """(fuzzy key, e-mail) of ``n`` generated people: many alike names in few blocks, some
    without an e-mail, some sharing one, and a few very long names."""
    rnd = random.Random(seed)
    people = []
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        if rnd.random() < 0.02:
            last = last + " " + "x" * rnd.randint(250, 300)  # more than 255 characters
        company = rnd.choice(COMPANY)
        email = rnd.choice(["", "", f"p{rnd.randint(1, 40)}@x.test", f"u{i}@x.test"])
        people.append((lead_fuzzy_key(first, last, company), email))
    return people


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_narrowed_fuzzy_lookups_answer_as_the_plain_index(monkeypatch, seed):
    """Batch by batch, as the importer asks: every row matched to the same record (or to
    none) as ``MatchIndex.match`` matches it, with ties, e-mail conflicts, names added by the
    batch itself and the arrays merged several times."""
    monkeypatch.setattr(importer, "NARROW_FROM", 0)
    monkeypatch.setattr(importer, "RECENT_MAX", 150)
    people = _people(3000, seed)
    plain, narrowed = MatchIndex(), importer._ImportIndex(addresses=True)
    plain.fuzzy_loaded = narrowed.fuzzy_loaded = True
    matched = 0
    for start in range(0, len(people), 250):
        batch = people[start : start + 250]
        narrowed.narrow(
            [(i, key, email) for i, (key, email) in enumerate(batch) if key is not None]
        )
        for i, (key, email) in enumerate(batch):
            if key is None:
                continue
            # as the importer does: the e-mail address first, then the name
            want, how = plain.match(key=email, fuzzy=key, email=email)
            got = narrowed.by_key.get(email) if email else None
            got_how = "key" if got is not None else ""
            if got is None:
                got, got_how = narrowed.match_row(i, key, email)
            assert (got.id if got else None) == (want.id if want else None)
            assert got_how == how
            if want is None:
                plain.add(Ref(id=start + i, email=email), key=email, fuzzy=key)
                narrowed.add(Ref(id=start + i, email=email), key=email, fuzzy=key)
            else:
                matched += 1
    assert 0 < matched < len(people)
    assert narrowed.main is not None and narrowed.main.size > 2 * 150  # merged again and again
    # the rows with an address looked among the records without one, kept apart
    assert narrowed.name_only is not None and 0 < len(narrowed.name_only.texts) < len(
        narrowed.texts
    )


def test_rows_with_an_address_compare_names_with_records_they_may_match_only(monkeypatch):
    """A row with an e-mail address is compared by name with the records without one and
    with those whose stored address it would not find (capitals), past any number of closer
    names with other addresses."""
    monkeypatch.setattr(importer, "NARROW_FROM", 0)
    index = importer._ImportIndex(addresses=True)
    index.fuzzy_loaded = True
    block = "acm|ann"
    for i in range(12):  # closer names, other addresses
        address = f"other{i}@x.test"
        index.add(Ref(id=i, email=address), key=address, fuzzy=(block, "able acme ann"))
    index.add(Ref(id=20, email="ann@x.test"), fuzzy=(block, "able acme anne"), findable=False)
    index.add(Ref(id=21), fuzzy=(block, "able acme anna"))
    assert sorted(r.id for r in index.name_only.blocks[block][1]) == [20, 21]
    index.narrow([(0, (block, "able acme ann"), "ann@x.test"), (1, (block, "able acme ann"), "")])
    ref, how = index.match_row(0, (block, "able acme ann"), "ann@x.test")
    assert (ref.id, how) == (20, "name")  # its own address, stored otherwise
    ref, how = index.match_row(0, (block, "able acme ann"), "bob@x.test")
    assert (ref.id, how) == (21, "name")  # the one without an address
    ref, how = index.match_row(1, (block, "able acme ann"), "")
    assert (ref.id, how) == (0, "name")  # without an address: the closest name of all


def test_a_conflicting_address_is_passed_over_however_many_closer_names_have_one():
    index = MatchIndex()
    names = ["able acme ann"] * 12 + ["able acme anne"]
    refs = [Ref(id=i, email=f"other{i}@x.test") for i in range(12)] + [Ref(id=12)]
    assert index.best_name("able acme ann", names, refs, "ann@x.test").id == 12
    assert index.best_name("able acme ann", names, refs, "").id == 0


def test_narrowing_keeps_only_names_that_can_reach_the_score(monkeypatch):
    monkeypatch.setattr(importer, "NARROW_FROM", 0)
    index = importer._ImportIndex()
    index.fuzzy_loaded = True
    names = ["ann able acme", "anne able acme", "anthony abbott acme", "anna zzzzzz acme"]
    for i, text in enumerate(names):
        index.add(Ref(id=i), fuzzy=("acm|ann", text))
    index.narrow([(0, ("acm|ann", "ann able acme"), ""), (1, ("new|blk", "ann able acme"), "")])
    survivors, before = index.narrowed[0]
    assert before == 4
    assert survivors == [0, 1]  # the others are too far apart to be 90 % alike
    assert index.narrowed[1] == ([], 0)  # a block nobody is in yet
    ref, how = index.match_row(0, ("acm|ann", "ann able acme"), "")
    assert (ref.id, how) == (0, "name")


def test_cells_remember_repeating_columns_and_forget_unique_ones():
    column = importer._Column(0, "Title", "title", "Title", None, limit=5)
    cells = importer._Cells(column, frozenset({"", "na"}), 2)
    assert cells.remember(" CEO ") == "CEO"
    assert cells.get(" CEO ") == "CEO"
    assert cells.remember("NA") is importer.MISSING
    bad = cells.remember("Chief")
    assert bad == "Chief"
    too_long = cells.remember("Founder")
    assert isinstance(too_long, importer._Bad) and "longer than 5" in too_long.reason
    cells.batch_done(1000)  # 4 conversions for 1,000 rows: a repeating column
    assert cells.get("NA") is importer.MISSING
    for i in range(600):
        cells.remember(f"u{i}")
    cells.batch_done(1000)  # most cells new: a column of unique values
    assert cells.get(" CEO ", None) is None
    assert cells.remember("u1") == "u1" and cells.get("u1", None) is None


@pytest.fixture
def admin(db):
    return User.objects.create_superuser("root@x.test", "pw")


@pytest.mark.django_db
def test_unique_columns_and_repeated_bad_cells(admin, tmp_path, monkeypatch):
    """Columns stop remembering after a batch; a bad value repeated on many rows is reported
    on each row, with every bad cell of the row in the order of the columns."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 1000)
    rows = [["Id", "Email", "Employees", "Created", "Title"]]
    for i in range(2500):
        rows.append([f"L{i}", f"p{i}@x.test", "12", "3/4/2024", "CEO"])
    rows[700] = ["L699", "broken", "lots", "3/4/2024", "CEO"]
    rows[1800] = ["L1799", "p1799@x.test", "lots", "2/30/2024", "CEO"]
    rows[2400] = ["L2399", "p2399@x.test", "lots", "3/4/2024", "CEO"]
    job = run_import(user=admin, entity="lead", path=write_csv(tmp_path, rows))
    assert (job.created, job.failed) == (2497, 3)
    bad = reasons(job)
    assert bad[701].startswith("Email: ") and "; Employees: " in bad[701]
    assert bad[1801].startswith("Employees: ") and "; Created: " in bad[1801]
    assert bad[2401].startswith("Employees: ") and "Created" not in bad[2401]
    assert {e["column"] for e in job.errors} == {"Email", "Employees"}
    lead = Lead.objects.get(external_id="L2498")
    assert (lead.email, lead.employees, lead.title) == ("p2498@x.test", 12, "CEO")
    first_status = LeadStatusChange.objects.get(lead=lead)
    assert first_status.at.date().isoformat() == "2024-03-04"


@pytest.mark.django_db(transaction=True)
def test_odd_characters_dates_amounts_and_custom_values_survive_the_copy(tmp_path):
    """Tabs, newlines, backslashes and quotes inside cells, accents, dates, times, amounts and
    custom values come back as they went in (COPY text on PostgreSQL, bulk_create else)."""
    admin = User.objects.create_superuser("root@x.test", "pw")
    rows = [
        ["Id", "Last Name", "Title", "Company", "Revenue", "Created", "Status", "Note", "Rank"],
        ["A", "Tab", "a\tb", "Back\\slash", "$1,234.50", "2024-03-05 10:11:12", "new", "x", "1"],
        ["B", "Line", "two\nlines", 'Quote "Q"', "0", "3/4/2024", "disqualified", "é\\u00e9", ""],
        ["C", "Crème", "", "", "(12)", "12/31/2023", "converted", "", "3"],
        ["D", "Dée", "N\\A", "\\N", "", "12/31/2023", "converted", 'say "hi"\t', "3"],
    ]
    path = write_csv(tmp_path, rows)
    job = run_import(user=admin, entity="lead", path=path, create_custom_fields=True)
    assert job.status == ImportStatus.DONE, job.message
    assert (job.created, job.failed) == (3, 1), job.errors  # negative revenue: C is refused
    assert "Revenue" in reasons(job)[5]  # B's title spans lines 3 and 4
    a, b = Lead.objects.get(external_id="A"), Lead.objects.get(external_id="B")
    assert (a.title, a.company, a.annual_revenue) == ("a\tb", "Back\\slash", Decimal("1234.50"))
    created = timezone.make_aware(dt.datetime(2024, 3, 5, 10, 11, 12))
    assert a.created_at == created  # COPY on PostgreSQL; bulk_create then the dates put back
    assert a.custom == {"note": "x", "rank": 1}
    assert (b.title, b.company, b.annual_revenue) == ("two\nlines", 'Quote "Q"', Decimal("0.00"))
    assert b.custom == {"note": "é\\u00e9"}
    assert (b.status, b.disqualify_reason) == (LeadStatus.DISQUALIFIED, "other")
    d = Lead.objects.get(external_id="D")
    assert (d.last_name, d.title, d.company, d.annual_revenue) == ("Dée", "N\\A", "\\N", None)
    assert d.custom == {"note": 'say "hi"', "rank": 3}  # cells are trimmed
    assert d.status == LeadStatus.CONVERTED and d.converted_at is not None
    changes = {c.lead_id: c for c in LeadStatusChange.objects.all()}
    assert changes[a.pk].to_status == "new" and changes[a.pk].at == created
    assert changes[b.pk].to_status == "disqualified" and changes[b.pk].note == "Imported"


@pytest.mark.django_db(transaction=True)
def test_writer_threads_keep_the_order_of_updates(tmp_path, monkeypatch):
    """Many small batches on several writers (PostgreSQL): later batches update records made
    by earlier ones, the same record twice, and the last update wins."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 20)
    monkeypatch.setattr(importer, "WRITERS", 3)
    admin = User.objects.create_superuser("root@x.test", "pw")
    rows = [["Id", "Email", "Last Name", "Title"]]
    rows += [[f"L{i}", f"p{i}@x.test", f"P{i}", "first"] for i in range(200)]
    rows += [[f"L{i}", "", "", "second"] for i in range(0, 200, 7)]
    rows += [[f"L{i}", "", "", "third"] for i in range(0, 200, 14)]
    job = run_import(
        user=admin,
        entity="lead",
        path=write_csv(tmp_path, rows),
        duplicate_policy=DuplicatePolicy.UPDATE,
    )
    assert (job.created, job.updated, job.failed) == (200, 29 + 15, 0), job.errors
    titles = dict(Lead.objects.values_list("external_id", "title"))
    for i in range(200):
        want = "third" if i % 14 == 0 else "second" if i % 7 == 0 else "first"
        assert titles[f"L{i}"] == want, i
    assert LeadStatusChange.objects.count() == 200


@pytest.mark.django_db(transaction=True)
def test_status_changes_found_id_by_id_when_the_ids_are_not_one_run(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "_id_span", lambda ids: None)
    admin = User.objects.create_superuser("root@x.test", "pw")
    rows = [["Email", "Last Name"]] + [[f"r{i}@x.test", f"R{i}"] for i in range(30)]
    job = run_import(user=admin, entity="lead", path=write_csv(tmp_path, rows))
    assert job.created == 30
    leads = set(Lead.objects.values_list("id", flat=True))
    assert set(LeadStatusChange.objects.values_list("lead_id", flat=True)) == leads


def test_id_span():
    assert importer._id_span([5, 6, 7]) == (5, 7)
    assert importer._id_span([9]) == (9, 9)
    assert importer._id_span([5, 7, 8]) is None
    assert importer._id_span([]) is None


@pytest.mark.django_db
def test_prescan_sees_a_late_day_first_date_and_many_distinct_values(admin, tmp_path, monkeypatch):
    """Gathered values are fed in portions (here: many distinct scores) and a d/m/Y date near
    the end still turns the whole column to d/m/Y."""
    monkeypatch.setattr(importer, "CELL_CACHE", 50)
    rows = [["Email", "Last Name", "Created", "Score"]]
    rows += [[f"p{i}@x.test", f"P{i}", "3/4/2024", str(i)] for i in range(300)]
    rows.append(["late@x.test", "Late", "25/4/2024", "7.5"])
    fed = []
    original = importer._Run._feed
    monkeypatch.setattr(
        importer._Run, "_feed", lambda self, *a: fed.append(1) or original(self, *a)
    )
    path = write_csv(tmp_path, rows)
    job = run_import(user=admin, entity="lead", path=path, create_custom_fields=True)
    assert job.created == 301 and job.rows_total == 301
    first_status = LeadStatusChange.objects.get(lead__email="p1@x.test")
    assert first_status.at.date().isoformat() == "2024-04-03"
    assert Lead.objects.get(email="late@x.test").custom == {"score": 7.5}
    assert "score (number)" in job.message
    assert len(fed) > 1  # in portions


@pytest.mark.django_db
def test_the_garbage_collector_is_left_as_it_was(admin, tmp_path, monkeypatch):
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "A"]])
    assert gc.isenabled()
    during = []
    original = importer._Run._rows
    monkeypatch.setattr(
        importer._Run, "_rows", lambda self, p: during.append(gc.isenabled()) or original(self, p)
    )
    run_import(user=admin, entity="lead", path=path)
    assert during == [False] and gc.isenabled()

    gc.disable()
    try:
        run_import(user=admin, entity="lead", path=path)
        assert not gc.isenabled()  # not switched on by the import
    finally:
        gc.enable()

    monkeypatch.setattr(importer._Run, "_rows", lambda self, p: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_import(user=admin, entity="lead", path=path)
    assert gc.isenabled()


def test_copy_text_of_dates_times_and_amounts():
    assert importer._copy_text(dt.date(2024, 3, 5)) == "2024-03-05"
    stamp = dt.datetime(2024, 3, 5, 10, 11, 12, tzinfo=dt.UTC)
    assert importer._copy_text(stamp) == "2024-03-05T10:11:12+00:00"
    assert importer._copy_text(Decimal("1234.50")) == "1234.50"
