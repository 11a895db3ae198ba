"""``/api/v1/imports``, ``/api/v1/duplicates`` and the merge endpoints, forbidden paths first."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from revline.crm.models import ImportJob, Lead
from tests.api.conftest import assert_error, token_for
from tests.crm.factories import make_account, make_lead

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
CSV = b"Email,Last Name,Employees\na@x.test,Able,10\nbroken,Baker,5\nc@x.test,Cole,lots\n"


@pytest.fixture(autouse=True)
def run_tasks_now(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.DATA_DIR = tmp_path  # uploads are stored under the data directory


def upload(user, data=None, content=CSV, name="leads.csv", **extra):
    client = Client()
    body = {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "entity": "leads"}
    body.update(data or {})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"} if user else {}
    return client.post("/api/v1/imports", body, **headers, **extra)


def test_anonymous_callers_get_401(anon):
    assert_error(upload(None), 401, "unauthorized")
    assert_error(anon.get("/imports"), 401, "unauthorized")
    assert_error(anon.get("/imports/1"), 401, "unauthorized")
    assert_error(anon.get("/duplicates"), 401, "unauthorized")
    assert_error(anon.post("/leads/merge", {"keep": 1, "merge": 2}), 401, "unauthorized")


def test_upload_runs_in_the_background_and_reports(org, api_as, django_capture_on_commit_callbacks):
    ae1 = org["ae1"].holder
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(ae1, {"source_name": "Fair", "dry_run": "false"})
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = api_as(ae1).get(f"/imports/{job_id}").json()
    assert body["status"] == "done" and body["progress"] == 100
    assert (body["created"], body["failed"], body["rows_done"]) == (1, 2, 3)
    assert [e["line"] for e in body["errors"]] == [3, 4]
    assert body["errors"][0]["column"] == "Email"
    assert body["owner_position"] == org["ae1"].pk
    assert body["mapping"] == {"Email": "email", "Last Name": "last_name", "Employees": "employees"}
    lead = Lead.objects.get()
    assert (lead.email, lead.source_name, lead.owner_position) == ("a@x.test", "Fair", org["ae1"])


def test_dry_run_and_options(org, api_as, django_capture_on_commit_callbacks):
    admin = org["revops"].holder
    mapping = json.dumps({"Email": "email", "Last Name": "last_name", "Employees": ""})
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            admin,
            {
                "dry_run": "true",
                "mapping": mapping,
                "owner": str(org["ae2"].pk),
                "all_or_nothing": "true",
                "on_duplicate": "update",
                "missing": json.dumps(["", "broken"]),
            },
        )
    assert response.status_code == 202, response.content
    body = api_as(admin).get(f"/imports/{response.json()['id']}").json()
    assert body["dry_run"] and body["status"] == "done"
    assert body["mode"] == "all_or_nothing" and body["duplicate_policy"] == "update"
    assert body["created"] == 3 and body["failed"] == 0  # "broken" is a missing value here
    assert body["preview"][0]["values"]["email"] == "a@x.test"
    assert not Lead.objects.exists()


def test_bad_uploads_are_refused(org):
    ae1 = org["ae1"].holder
    assert_error(upload(ae1, {"entity": "widgets"}), 422, "validation_error")
    assert_error(upload(ae1, {"mapping": "{not json"}), 422, "validation_error")
    body = assert_error(
        upload(ae1, {"mapping": json.dumps({"Nope": "email"})}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "mapping.Nope"
    assert_error(upload(ae1, {"owner": str(org["ae3"].pk)}), 403, "forbidden")
    assert_error(upload(ae1, {"owner": "999999"}), 422, "validation_error")
    assert_error(upload(ae1, content=b""), 422, "validation_error")
    assert not ImportJob.objects.exists()


def test_only_the_creator_or_an_admin_sees_a_job(org, api_as, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(org["ae1"].holder).json()["id"]
    assert_error(api_as(org["ae2"].holder).get(f"/imports/{job_id}"), 404, "not_found")
    assert_error(api_as(org["m1"].holder).get(f"/imports/{job_id}"), 404, "not_found")
    assert api_as(org["revops"].holder).get(f"/imports/{job_id}").status_code == 200
    assert api_as(org["ae2"].holder).get("/imports").json() == {
        "items": [],
        "next": None,
        "total": 0,
    }


def test_list_is_paginated_newest_first(org, api_as, django_assert_max_num_queries):
    ae1 = org["ae1"].holder
    for _ in range(3):
        upload(ae1, {"dry_run": "true"})
    client = api_as(ae1)
    with django_assert_max_num_queries(6):
        page = client.get("/imports", {"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next"]
    ids = [item["id"] for item in page["items"]]
    assert ids == sorted(ids, reverse=True)
    rest = client.get("/imports", {"limit": 2, "cursor": page["next"]}).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert "errors" not in page["items"][0]


def test_merge_endpoints(org, api_as):
    ae1, ae3 = org["ae1"], org["ae3"]
    keep, gone = make_lead(ae1, email="a@x.test"), make_lead(ae1, email="a@x.test", phone="1")
    theirs = make_lead(ae3)
    client = api_as(ae1.holder)
    assert_error(
        client.post("/leads/merge", {"keep": keep.pk, "merge": theirs.pk}), 404, "not_found"
    )
    assert_error(
        api_as(org["mkt"].holder).post("/leads/merge", {"keep": keep.pk, "merge": gone.pk}),
        403,
        "forbidden",
    )
    assert_error(
        client.post("/leads/merge", {"keep": keep.pk, "merge": keep.pk}), 422, "validation_error"
    )
    response = client.post("/leads/merge", {"keep": keep.pk, "merge": gone.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["keep"], body["merged"], body["entity"]) == (keep.pk, gone.pk, "lead")
    assert "phone" in body["filled"]
    assert Lead.objects.get(pk=gone.pk).merged_into_id == keep.pk
    assert_error(client.post("/leads/merge", {"keep": keep.pk, "merge": gone.pk}), 404, "not_found")

    a, b = make_account(ae1, name="Acme Corp."), make_account(ae1, name="ACME Corporation")
    response = client.post("/accounts/merge", {"keep": a.pk, "merge": b.pk})
    assert response.status_code == 200, response.content
    assert_error(client.post("/contacts/merge", {"keep": 1, "merge": 2}), 404, "not_found")


def test_duplicates_endpoint(org, api_as):
    ae1 = org["ae1"]
    a, b = make_lead(ae1, email="same@x.test"), make_lead(ae1, email="same@x.test")
    make_lead(org["ae3"], email="same@x.test")
    body = api_as(ae1.holder).get("/duplicates", {"entity": "lead"}).json()
    assert body["total"] == 1
    group = body["items"][0]
    assert group["reason"] == "email" and group["score"] == 100
    assert sorted(r["id"] for r in group["records"]) == sorted([a.pk, b.pk])
    assert_error(
        api_as(ae1.holder).get("/duplicates", {"entity": "opportunity"}), 422, "validation_error"
    )
