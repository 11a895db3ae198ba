"""Benchmark: CSV import of leads, with validation and duplicate detection (DESIGN.md §5: at least
20,000 rows/s on a generated 1M-lead file, PostgreSQL).

Generates (once, cached under the data directory) a CSV of N leads with a fixed seed and the
columns a CRM export has: source id, names, e-mail, phone, company, title, industry, employees,
revenue written as "$1,234,500.00", country, source, status, owner (a rep's e-mail), created date
(m/d/Y), and two columns that become custom fields (a score and a yes/no). About 0.5% of the rows
are bad (broken e-mail, negative or wordy employee counts, a wrong number of columns, an unknown
owner, an impossible date) and about 3% are duplicates (the same source id again, the same e-mail
under another id in other case, the same person and company with a typo and no e-mail).

Then it imports the file through the service ``revline import`` uses (``import_job_create`` +
``import_job_run``), as a superuser, keeping the good rows, and prints rows/s, the importer's
CPU time per row (this process, all its threads: what the importer costs whatever else the
machine runs) and, when the server runs on this machine, the CPU time of the PostgreSQL
processes working for the bench database. With ``--reimport`` it imports the same file a second
time, which must create nothing.

    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/revline_bench_import \\
        .venv/bin/python bench/import_leads.py [--rows 1000000] [--reimport] [--keep]

Each run first deletes the leads an earlier run imported (unless ``--keep``: then the file is
imported on top of them, which measures matching against a full table).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revline.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from revline.crm.choices import DuplicatePolicy, ImportMode  # noqa: E402
from revline.crm.importer import import_default_owner, import_job_create, import_job_run  # noqa: E402
from revline.crm.models import CustomFieldDefinition, Lead, LeadStatusChange  # noqa: E402
from revline.org.choices import RoleType  # noqa: E402
from revline.org.models import Position, User  # noqa: E402
from revline.org.services import position_create  # noqa: E402

SEED = 20260311
SOURCE = "bench import"


def _words(text: str) -> list[str]:
    return text.split()


REPS = 20
FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob Amy "
    "Gary Kathleen Nicholas Angela Eric Shirley Jonathan Emma Stephen Brenda Larry Pamela Justin "
    "Nicole Scott Anna Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra "
    "Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria Jack Olivia Dennis Heather Jerry "
    "Helen Tyler Catherine Aaron Diane Jose Julie Adam Victoria Nathan Joyce Henry Lauren Zachary "
    "Kelly Douglas Christina Peter Ruth Kyle Joan Noah Virginia Ethan Judith Jeremy Evelyn"
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson "
    "Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell "
    "Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson "
    "Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera "
    "Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez"
)
WORDS = _words(
    "Acme Globex Initech Umbrella Stark Wayne Wonka Tyrell Cyberdyne Soylent Hooli Vandelay "
    "Pied Piper Aperture Black Mesa Oscorp Gringotts Monarch Dunder Mifflin Prestige Wernham "
    "Sterling Cooper Gekko Nakatomi Virtucon Massive Dynamic Blue Sun Abstergo Tessier Ashpool "
    "Yoyodyne Ollivander Krusty Spacely Cogswell Bluth Rekall Omni Consumer Buy More Northwind "
    "Contoso Fabrikam Adventure Works Litware Proseware Tailspin Wingtip Woodgrove Fourth Coffee "
    "Alpine Ski Blue Yonder Coho Vineyard Humongous Lucerne Margie Travel Trey Research Wide World "
    "Graphic Design Institute School Fine Art Southridge Video City Power Light Datum Liberty "
    "Delightful Relecloud Best For You Organics Lamna Healthcare Munson Pickles VanArsdel"
)
SUFFIXES = ["Inc", "Inc.", "LLC", "Ltd", "Corp", "Corporation", "GmbH", "Group", "", "", ""]
TITLES = ["CEO", "CTO", "VP Sales", "Head of IT", "Buyer", "Operations Manager", "Director",
          "Engineer", "Analyst", "Founder", "CFO", "Marketing Manager"]  # fmt: skip
INDUSTRIES = ["Software", "Retail", "Finance", "Healthcare", "Manufacturing", "Education",
              "Logistics", "Energy", "Media", "Telecom"]  # fmt: skip
COUNTRIES = ["United States", "Germany", "United Kingdom", "France", "India", "Brazil",
             "Canada", "Japan", "Spain", "Netherlands"]  # fmt: skip
SOURCES = ["web", "referral", "event", "campaign", "outbound", "partner", "Web form", "Referral"]
STATUSES = ["new", "new", "new", "contacted", "qualifying", "disqualified", "New", "Contacted"]
HEADER = ["Lead ID", "First Name", "Last Name", "Email", "Phone", "Company", "Job Title",
          "Industry", "Employees", "Annual Revenue", "Country", "Source", "Status", "Owner",
          "Created", "Score", "Newsletter"]  # fmt: skip


def rep_email(i: int) -> str:
    return f"bench.rep{i}@bench.test"


def generate(path: Path, rows: int) -> None:
    rnd = random.Random(SEED)
    companies = [
        f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(SUFFIXES)}".strip()
        for _ in range(20_000)
    ]
    made: list[list[str]] = []
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            r = rnd.random()
            if made and r < 0.01:  # the same row again
                row = list(rnd.choice(made))
            elif made and r < 0.02:  # the same e-mail under another id, other case
                row = list(rnd.choice(made))
                row[0] = f"L{i:08d}"
                row[3] = row[3].upper()
            elif made and r < 0.03:  # the same person and company, a typo, no e-mail
                row = list(rnd.choice(made))
                row[0] = f"L{i:08d}"
                row[1] = row[1][:-1] + ("a" if row[1][-1] != "a" else "e")
                row[3] = ""
            else:
                first, last = rnd.choice(FIRST), rnd.choice(LAST)
                company = rnd.choice(companies)
                domain = company.split()[0].lower() + ".example"
                row = [
                    f"L{i:08d}",
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}{rnd.randint(1, 9999)}@{domain}",
                    f"+1 555 {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}",
                    company,
                    rnd.choice(TITLES),
                    rnd.choice(INDUSTRIES),
                    str(rnd.choice([5, 12, 40, 80, 150, 600, 2500, 12000])),
                    f"${rnd.randint(1, 500) * 10_000:,}.00",
                    rnd.choice(COUNTRIES),
                    rnd.choice(SOURCES),
                    rnd.choice(STATUSES),
                    rep_email(rnd.randint(1, REPS)),
                    f"{rnd.randint(1, 12)}/{rnd.randint(1, 28)}/{rnd.randint(2019, 2025)}",
                    str(rnd.randint(0, 100)),
                    rnd.choice(["yes", "no", "", "NA"]),
                ]
                if len(made) < 50_000:
                    made.append(row)
                elif rnd.random() < 0.05:
                    made[rnd.randrange(len(made))] = row
            bad = rnd.random()
            if bad < 0.001:
                row = [*row[:3], row[3].replace("@", " at ") or "x@", *row[4:]]
            elif bad < 0.002:
                row = [*row[:8], rnd.choice(["-5", "lots"]), *row[9:]]
            elif bad < 0.003:
                row = row[:-2]
            elif bad < 0.004:
                row = [*row[:13], "nobody@bench.test", *row[14:]]
            elif bad < 0.005:
                row = [*row[:14], "13/45/2024", *row[15:]]
            out.writerow(row)
            if i % 100_000 == 0 and i:
                print(f"\r  generating: {i:,}/{rows:,}", end="", flush=True)
    tmp.rename(path)
    print(f"\r  generated {rows:,} rows in {time.perf_counter() - t0:.1f} s: {path}")


def setup_org() -> User:
    admin = User.objects.filter(email="bench.admin@bench.test").first()
    if admin is None:
        admin = User.objects.create_superuser("bench.admin@bench.test", None, full_name="Admin")
    if not Position.objects.filter(holder__email=rep_email(1)).exists():
        manager = position_create(title="Bench manager", role=RoleType.SALES_MANAGER, by=None)
        for i in range(1, REPS + 1):
            user = User.objects.create_user(rep_email(i), None, full_name=f"Bench Rep {i}")
            position_create(
                title=f"Bench AE {i}", role=RoleType.AE, by=None, reports_to=manager, holder=user
            )
    return admin


def reset() -> None:
    """Remove what earlier runs imported: TRUNCATE when the lead tables hold nothing else (a
    fresh table, as a first import meets it), else DELETE."""
    t0 = time.perf_counter()
    CustomFieldDefinition.objects.filter(entity="lead", key__in=["score", "newsletter"]).delete()
    others = Lead.objects.exclude(source_name=SOURCE).exists() or any(
        rel.related_model._base_manager.exists()
        for rel in Lead._meta.get_fields(include_hidden=True)
        if rel.auto_created
        and not rel.concrete
        and rel.related_model not in (Lead, LeadStatusChange)
    )
    with connection.cursor() as cur:
        if connection.vendor == "postgresql" and not others:
            cur.execute("TRUNCATE crm_leadstatuschange, crm_lead CASCADE")
        else:
            ids, params = (
                Lead.objects.filter(source_name=SOURCE).values("id").query.sql_with_params()
            )
            cur.execute(f"DELETE FROM crm_leadstatuschange WHERE lead_id IN ({ids})", params)
            cur.execute(f"DELETE FROM crm_lead WHERE id IN ({ids})", params)
    print(f"  reset in {time.perf_counter() - t0:.1f} s")


def _cpu() -> float:
    """CPU seconds (user + system) of this process, all its threads, and its finished child
    processes: what the importer itself costs, whatever else the machine is doing."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class ServerCpu:
    """CPU seconds of the PostgreSQL server processes working for the bench database, when the
    server runs on this machine (read from /proc every quarter second: a process that ends
    between two looks loses its last quarter second). None when it cannot be seen."""

    def __init__(self) -> None:
        settings_dict = connection.settings_dict
        local = settings_dict.get("HOST", "") in ("", "localhost", "127.0.0.1", "::1")
        self.tag = f" {settings_dict['NAME']} ".encode()
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.usable = connection.vendor == "postgresql" and local and Path("/proc").is_dir()
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _sample(self) -> dict[int, float]:
        seen = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                title = (proc / "cmdline").read_bytes()
                if not title.startswith(b"postgres") or self.tag not in title:
                    continue
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seen[int(proc.name)] = (int(fields[11]) + int(fields[12])) / self.ticks
        return seen

    def __enter__(self) -> ServerCpu:
        if self.usable:
            self.start = self._sample()
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(0.25):
            self.last.update(self._sample())

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            self.last.update(self._sample())

    @property
    def seconds(self) -> float | None:
        if not self.usable:
            return None
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def run(path: Path, admin: User, *, label: str) -> float:
    owner = import_default_owner(user=admin)
    job = import_job_create(
        by=admin,
        entity="lead",
        file_path=path,
        owner_position=owner,
        duplicate_policy=DuplicatePolicy.SKIP,
        mode=ImportMode.KEEP_GOOD,
        create_custom_fields=True,
        source_name=SOURCE,
    )
    t0 = time.perf_counter()
    cpu0 = _cpu()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        print(f"\r  {label}: {done:,}/{total:,} rows, {rate:,.0f} rows/s", end="", flush=True)

    with ServerCpu() as server:
        job = import_job_run(job=job, progress=progress)
    elapsed = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    rate = job.rows_done / elapsed
    print(f"\r  {label}: {job.message}")
    print(f"  {label}: {job.rows_done:,} rows in {elapsed:.1f} s = {rate:,.0f} rows/s")
    rows = max(job.rows_done, 1)
    print(
        f"  {label}: importer CPU {cpu:.1f} s = {cpu / rows * 1e6:.1f} µs/row "
        f"(this process and its children, all threads)"
    )
    if server.seconds is not None:
        print(
            f"  {label}: database server CPU {server.seconds:.1f} s = "
            f"{server.seconds / rows * 1e6:.1f} µs/row (its processes for this database)"
        )
    if job.errors:
        reasons: dict[str, int] = {}
        for e in job.errors:
            kind = e["reason"].split(":")[0][:60]
            reasons[kind] = reasons.get(kind, 0) + 1
        print("  bad rows by kind:", ", ".join(f"{k}: {n}" for k, n in reasons.items()))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reimport", action="store_true", help="Import the file twice.")
    parser.add_argument("--keep", action="store_true", help="Keep earlier imported leads.")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    folder = Path(settings.DATA_DIR) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"leads_{args.rows}_{SEED}.csv"
    if not path.exists():
        generate(path, args.rows)
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    admin = setup_org()
    if not args.keep:
        reset()
    print(f"leads before: {Lead.objects.count():,}")
    run(path, admin, label="import")
    if args.reimport:
        run(path, admin, label="re-import")
    print(f"leads after: {Lead.objects.count():,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory of this process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
