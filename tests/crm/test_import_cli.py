"""``revline import``: end to end with temporary CSV files, and the X Education leads data set."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from revline.crm.choices import ImportStatus, LeadStatus
from revline.crm.models import CustomFieldDefinition, ImportJob, Lead
from revline.org.models import Position, User
from tests.crm.import_helpers import write_csv

ROOT = Path(__file__).resolve().parents[2]
X_EDUCATION = ROOT.parent / "shared" / "data" / "x_education_leads" / "Leads.csv"


def revline_import(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def admin(db):
    """A fresh installation: one superuser and no positions at all."""
    return User.objects.create_superuser("admin@example.test", "a long admin passphrase")


def test_import_leads_on_a_database_with_only_an_admin(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["Id", "Email", "Won", "Visits", "Segment", "Notes"],
            ["1", "a@x.test", "yes", "3", "SMB", "x"],
            ["2", "b@x.test", "no", "", "Select", "y"],
            ["3", "c@x.test", "won", "1,250", "ENT", "z"],
        ],
    )
    out, _ = revline_import(
        "leads", str(path), "--source", "Trade show", "--id-column", "Id", "--outcome", "Won",
        "--exclude", "Notes",
    )  # fmt: skip
    assert "created 3" in out
    owner = Position.objects.get()
    assert owner.title == "Imported records" and owner.holder == admin and owner.role == "revops"
    leads = {lead.external_id: lead for lead in Lead.objects.all()}
    assert leads["1"].status == LeadStatus.CONVERTED and leads["1"].outcome is True
    assert leads["2"].status == LeadStatus.DISQUALIFIED and leads["2"].outcome is False
    assert leads["3"].outcome is True
    assert {(lead.source, lead.source_name) for lead in leads.values()} == {
        ("import", "Trade show")
    }
    assert leads["1"].custom == {"visits": 3, "segment": "SMB"}
    assert leads["2"].custom == {}
    assert leads["3"].custom == {"visits": 1250, "segment": "ENT"}
    assert not CustomFieldDefinition.objects.filter(key="notes").exists()
    assert all(lead.owner_position == owner for lead in leads.values())

    out, _ = revline_import("leads", str(path), "--source", "Trade show", "--id-column", "Id")
    assert "created 0" in out and "skipped 3" in out
    assert Lead.objects.count() == 3


def test_owner_map_dry_run_and_errors(admin, tmp_path):
    from tests.org.factories import make_position

    rep = make_position("ae", title="AE")
    path = write_csv(
        tmp_path,
        [["Mail", "Who", "Size"], ["a@x.test", "Ann", "10"], ["oops", "Bob", "x"]],
    )
    out, _ = revline_import(
        "lead", str(path), "--map", "Mail=email", "Who=last_name", "Size=employees",
        "--owner", rep.holder.email, "--dry-run", "--no-custom-fields",
    )  # fmt: skip
    assert "Dry run" in out and "line 3" in out and "oops" in out
    assert "Preview:" in out and "line 2 create" in out
    assert not Lead.objects.exists()

    with pytest.raises(CommandError, match="nothing was imported"):
        revline_import(
            "leads", str(path), "--map", "Mail=email", "Who=last_name", "Size=employees",
            "--owner", rep.holder.email, "--all-or-nothing",
        )  # fmt: skip
    assert not Lead.objects.exists()
    assert ImportJob.objects.filter(status=ImportStatus.FAILED).count() == 1

    out, _ = revline_import(
        "leads", str(path), "--map", "Mail=email", "Who=last_name", "Size=employees",
        "--owner", rep.holder.email,
    )  # fmt: skip
    assert "created 1" in out and "1 bad" in out
    assert Lead.objects.get().owner_position == rep


def test_command_refuses_what_it_cannot_do(admin, tmp_path):
    path = write_csv(tmp_path, [["Email"], ["a@x.test"]])
    with pytest.raises(CommandError, match="no column"):
        revline_import("leads", str(path), "--id-column", "Nope")
    with pytest.raises(CommandError, match="no field"):
        revline_import("leads", str(path), "--map", "Email=shoe_size")
    with pytest.raises(CommandError, match="for leads"):
        revline_import("accounts", str(path), "--outcome", "Email")
    with pytest.raises(CommandError, match="No file"):
        revline_import("leads", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No active user"):
        revline_import("leads", str(path), "--as", "ghost@x.test")


def test_no_superuser_no_import(db, tmp_path):
    path = write_csv(tmp_path, [["Email"], ["a@x.test"]])
    with pytest.raises(CommandError, match="No superuser"):
        revline_import("leads", str(path))


@pytest.mark.skipif(not X_EDUCATION.exists(), reason="the X Education data set is not here")
def test_x_education_leads(admin):
    """The contract a later issue relies on, on the real 9,240-row file (never copied)."""
    args = [
        "leads", str(X_EDUCATION), "--source", "X Education", "--id-column", "Prospect ID",
        "--outcome", "Converted",
    ]  # fmt: skip
    out, _ = revline_import(*args)
    assert "created 9240" in out and "0 bad" in out, out
    assert Lead.objects.count() == 9240
    assert Lead.objects.filter(outcome=True, status=LeadStatus.CONVERTED).count() == 3561
    assert Lead.objects.filter(outcome=False, status=LeadStatus.DISQUALIFIED).count() == 5679
    assert Lead.objects.filter(source="import", source_name="X Education").count() == 9240
    types = dict(CustomFieldDefinition.objects.values_list("key", "field_type"))
    assert types["lead_number"] == "integer"
    assert types["totalvisits"] == "integer"
    assert types["page_views_per_visit"] == "number"
    assert types["do_not_email"] == "boolean"
    assert types["lead_source"] == "text"
    assert types["asymmetrique_activity_score"] == "integer"
    assert "converted" not in types and "prospect_id" not in types
    first = Lead.objects.get(external_id="7927b2df-8bba-4d29-b9a2-b6e0beafe620")
    assert first.custom["lead_number"] == 660737 and first.custom["totalvisits"] == 0
    assert first.custom["lead_source"] == "Olark Chat"
    assert "specialization" not in first.custom  # "Select" means missing
    second = Lead.objects.get(external_id="2a272436-5132-4136-86fa-dcc88c88f482")
    assert second.custom["page_views_per_visit"] == 2.5 and second.country == "India"
    assert isinstance(second.custom["total_time_spent_on_website"], int)

    out, _ = revline_import(*args)
    assert "created 0" in out and "skipped 9240" in out
    assert Lead.objects.count() == 9240


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_the_console_script(tmp_path):
    """``revline import`` through the installed script on a fresh SQLite database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVLINE_", "DJANGO_"))}
    env.update(
        REVLINE_DATA_DIR=str(tmp_path / "data"),
        REVLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SUPERUSER_PASSWORD="a long admin passphrase",
    )
    revline = Path(sys.executable).parent / "revline"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(revline), *args], env=env, capture_output=True, text=True, timeout=300
        )

    assert run("migrate", "-v0").returncode == 0
    assert run("createsuperuser", "--noinput", "--email", "root@example.test").returncode == 0
    path = write_csv(tmp_path, [["Id", "Email", "Converted"], ["1", "a@x.test", "1"]])
    done = run(
        "import", "leads", str(path), "--source", "S", "--id-column", "Id", "--outcome", "Converted"
    )
    assert done.returncode == 0, done.stderr
    assert "created 1" in done.stdout
    bad = run("import", "leads", str(path), "--id-column", "Nope")
    assert bad.returncode != 0 and "no column" in bad.stderr
