"""The import pages (upload, mapping, progress, results) and the duplicate review."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from revline.crm.choices import ImportStatus
from revline.crm.models import ImportJob, ImportMapping, Lead
from tests.crm.factories import make_lead

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
CSV = b"Email,Surname,Visits\na@x.test,Able,3\nbroken,Baker,5\n"


@pytest.fixture(autouse=True)
def run_tasks_now(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.DATA_DIR = tmp_path  # uploads are stored under the data directory


def login(client, position):
    client.force_login(position.holder)
    return client


def start(client, org, **data):
    body = {
        "entity": "lead",
        "file": SimpleUploadedFile("people.csv", CSV, content_type="text/csv"),
        "owner_position": org["ae1"].pk,
        "duplicate_policy": "skip",
        "mode": "keep_good",
        "missing": "NA, N/A",
        **data,
    }
    return client.post(reverse("web:import_new"), body)


def test_pages_need_a_login(client):
    for name in ("web:imports", "web:import_new", "web:duplicates"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login" in response["Location"]


def test_upload_map_and_import(client, org, django_capture_on_commit_callbacks):
    login(client, org["ae1"])
    assert client.get(reverse("web:import_new")).status_code == 200
    response = start(client, org)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("web:import_detail", args=[job.pk])

    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Map the columns" in html and "Surname" in html and "a@x.test" in html
    assert '<option value="last_name" selected>' in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:import_detail", args=[job.pk]),
            {"col_0": "email", "col_1": "last_name", "col_2": "__custom__", "action": "import"},
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and not job.dry_run and job.create_custom_fields
    assert (job.created, job.failed) == (1, 1)
    assert Lead.objects.get().custom == {"visits": 3}
    assert ImportMapping.objects.get().mapping == {"Email": "email", "Surname": "last_name"}

    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Bad rows" in html and "broken" in html and "hx-trigger" not in html
    response = client.get(reverse("web:import_errors", args=[job.pk]))
    csv_body = b"".join(response.streaming_content).decode()
    assert csv_body.splitlines()[0] == "line,column,reason" and csv_body.splitlines()[1].startswith(
        "3,"
    )


def test_dry_run_then_import_now(client, org, django_capture_on_commit_callbacks):
    login(client, org["ae1"])
    start(client, org)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("web:import_detail", args=[job.pk]),
            {"col_0": "email", "col_1": "last_name", "col_2": "", "action": "dry_run"},
        )
    job.refresh_from_db()
    assert job.dry_run and job.status == ImportStatus.DONE and not Lead.objects.exists()
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Import now" in html and "Would create" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:import_again", args=[job.pk]))
    new = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("web:import_detail", args=[new.pk])
    assert new.status == ImportStatus.DONE and not new.dry_run and Lead.objects.count() == 1


def test_progress_polls_while_running(client, org):
    login(client, org["ae1"])
    start(client, org)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, message="x", rows_done=5, rows_total=10
    )
    url = reverse("web:import_detail", args=[job.pk])
    partial = client.get(url, headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="50"' in html
    assert "<html" not in html
    full = client.get(url).content.decode()
    assert "<html" in full and 'hx-trigger="every 1s"' in full


def test_someone_elses_import_is_not_found(client, org):
    login(client, org["ae1"])
    start(client, org)
    job = ImportJob.objects.get()
    login(client, org["ae2"])
    for name in ("web:import_detail", "web:import_errors"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("web:import_again", args=[job.pk])).status_code == 404
    assert job.file_name not in client.get(reverse("web:imports")).content.decode()
    login(client, org["revops"])
    assert client.get(reverse("web:import_detail", args=[job.pk])).status_code == 200


def test_import_list(client, org, django_assert_max_num_queries):
    login(client, org["ae1"])
    for _ in range(3):
        start(client, org)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("web:imports")).content.decode()
    assert html.count("people.csv") == 3


def test_duplicates_review_and_merge(client, org):
    ae1 = org["ae1"]
    keep = make_lead(ae1, email="same@x.test", first_name="Ann")
    gone = make_lead(ae1, email="same@x.test", first_name="Anne", phone="123")
    login(client, ae1)
    html = client.get(reverse("web:duplicates"), {"entity": "lead"}).content.decode()
    assert "Same e-mail address" in html and "Anne" in html
    response = client.post(
        reverse("web:duplicates_merge"),
        {"entity": "lead", "keep": keep.pk, "merge": [keep.pk, gone.pk]},
    )
    assert response.status_code == 302
    gone.refresh_from_db()
    keep.refresh_from_db()
    assert gone.merged_into == keep and keep.phone == "123"
    assert "No duplicates found" in client.get(reverse("web:duplicates")).content.decode()


def test_merging_needs_change_rights(client, org):
    mine = make_lead(org["ae1"], email="same@x.test")
    theirs = make_lead(org["ae3"], email="same@x.test")
    login(client, org["mkt"])  # sees every lead, changes none
    html = client.get(reverse("web:duplicates")).content.decode()
    assert "read only" in html and 'name="keep"' not in html
    client.post(
        reverse("web:duplicates_merge"),
        {"entity": "lead", "keep": mine.pk, "merge": [theirs.pk]},
    )
    assert Lead.objects.filter(merged_into__isnull=False).count() == 0


def test_add_by_import_puts_the_files_leads_on_the_prospect_list(
    client, org, django_capture_on_commit_callbacks
):
    from revline.crm import services

    plist = services.prospect_list_create(by=org["ae1"].holder, name="Imported prospects")
    existing = make_lead(org["ae1"], email="b@x.test")
    make_lead(org["ae1"], email="not-in-file@x.test")
    login(client, org["ae1"])
    page = client.get(reverse("web:import_new") + f"?list={plist.pk}").content.decode()
    assert f'<option value="{plist.pk}" selected>' in page
    body = b"Email,Surname\na@x.test,Able\nb@x.test,Baker\n"
    response = client.post(
        reverse("web:import_new"),
        {
            "entity": "lead",
            "file": SimpleUploadedFile("people.csv", body, content_type="text/csv"),
            "owner_position": org["ae1"].pk,
            "duplicate_policy": "skip",
            "mode": "keep_good",
            "prospect_list": plist.pk,
        },
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.prospect_list == plist
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("web:import_detail", args=[job.pk]),
            {"col_0": "email", "col_1": "last_name", "action": "import"},
        )
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and (job.created, job.skipped) == (1, 1)
    members = set(plist.members.values_list("lead__email", flat=True))
    assert members == {"a@x.test", "b@x.test"}
    assert plist.members.get(lead=existing).how == "import"


def test_add_by_import_refuses_a_list_the_user_cannot_change(client, org):
    from revline.crm import services

    plist = services.prospect_list_create(by=org["ae3"].holder, name="Someone else's")
    login(client, org["ae1"])
    response = start(client, org, prospect_list=plist.pk)
    assert response.status_code == 200 and not ImportJob.objects.exists()
