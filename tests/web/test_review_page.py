"""The review page end to end: real uvicorn on loopback, real headless chromium, real
SQLite and MLflow stores. Screenshots land in test-artifacts/review-page/."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

import experiments
from tests.conftest import REPO
from tests.server import make_key, uvicorn_server
from tests.web.conftest import ARTIFACTS, shot

pytestmark = pytest.mark.browser

SAMPLE = Path(REPO, "data", "sample_stats.csv")
META = Path(REPO, "tests", "data", "exports", "meta_ads_manager.csv")


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[dict[str, str]]:
    """A server with one empty campaign, a run-tracking store and a key per role."""
    url = f"sqlite:///{tmp_path / 'adbandit.db'}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = experiments.Tracker("policies", uri=uri, root=tmp_path)
    base_run = tracker.log_run(
        "uniform", metrics={"regret": 10.0, "regret_low": 8.0, "regret_high": 12.0}
    )
    tracker.log_run("adbandit", metrics={"regret": 5.0, "regret_low": 4.0, "regret_high": 6.0})
    keys = {
        role: make_key(url, role, name, capsys)
        for role, name in [
            ("viewer", "val"),
            ("specialist", "ana"),
            ("automation", "bot"),
            ("admin", "root"),
        ]
    }
    env = {"ADBANDIT_TRACKING_URI": uri, "ADBANDIT_MLFLOW_UI_URL": "http://mlflow.test:5000"}
    with uvicorn_server(url, tmp_path / "server.log", env) as (base, _):
        bot = {"Authorization": f"Bearer {keys['automation']}"}
        cid = httpx.post(f"{base}/v1/campaigns", json={"name": "autumn_sale"}, headers=bot)
        assert cid.status_code == 201, cid.text
        yield {"base": base, "campaign": str(cid.json()["id"]), "run": base_run, **keys}


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/ui/")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-view", "campaigns")


def ready(page: Page, view: str) -> None:
    expect(page.locator(f"body[data-ready='1'][data-view={view}]")).to_have_count(1)


def test_upload_recommend_approve_download(
    site: dict[str, str], page: Page, tmp_path: Path
) -> None:
    base, cid = site["base"], site["campaign"]
    page.goto(f"{base}/ui/")
    page.fill("input[name=key]", "adb_00000000_not-a-key")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not accepted")

    sign_in(page, base, site["automation"])
    expect(page.get_by_test_id("who")).to_have_text("bot · automation")
    page.click("text=autumn_sale")
    ready(page, "campaign")
    expect(page.get_by_test_id("recommendation")).to_contain_text("No recommendation yet")

    # A file with one broken row is refused whole; the page shows that row beside its rule.
    stats = pd.read_csv(SAMPLE)
    bad = stats.copy()
    bad.loc[4, "clicks"] = bad.loc[4, "impressions"] + 1  # data row 5
    bad_csv = tmp_path / "bad_stats.csv"
    bad.to_csv(bad_csv, index=False)
    page.set_input_files("input[name=file]", bad_csv)
    page.click("button:has-text('Upload')")
    result = page.get_by_test_id("upload-result")
    expect(result.get_by_role("alert")).to_contain_text("invalid stats")
    row = page.get_by_test_id("bad-rows").locator("tr[data-row='5']")
    expect(row.locator("td.bad")).to_have_text(str(bad.loc[4, "clicks"]))
    expect(row.locator("td.rule")).to_contain_text("clicks")
    shot(page, "1-upload-refused")
    headers = {"Authorization": f"Bearer {site['viewer']}"}
    stored = httpx.get(f"{base}/v1/campaigns/{cid}/stats", headers=headers).json()
    assert stored["n_rows"] == 0  # nothing of the refused file was written

    page.set_input_files("input[name=file]", SAMPLE)
    page.click("button:has-text('Upload')")
    expect(page.get_by_test_id("flash")).to_contain_text(f"{len(stats)} new arm-days")
    expect(page.get_by_test_id("kpis")).to_contain_text(f"{stats['spend'].sum():,.2f}")

    page.fill("input[name=budget]", "1200")
    page.click("button:has-text('Recommend')")
    expect(page.get_by_test_id("flash")).to_contain_text("is ready for review")
    arms = stats[["creative", "audience"]].drop_duplicates()
    expect(page.get_by_test_id("arms").locator("tbody tr")).to_have_count(len(arms))
    expect(page.get_by_test_id("recommendation").locator(".badge")).to_have_text("pending")
    shot(page, "2-recommendation")

    page.fill("input[name=note]", "looks right")
    page.click("button:has-text('Approve')")
    expect(page.get_by_test_id("flash")).to_contain_text("approved")
    decisions = page.get_by_test_id("decisions")
    expect(decisions).to_contain_text("bot")
    expect(decisions).to_contain_text("looks right")

    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    saved = tmp_path / "split.csv"
    info.value.save_as(saved)
    rec_id = httpx.get(f"{base}/v1/campaigns/{cid}/recommendations", headers=headers).json()[0]
    served = httpx.get(f"{base}/v1/recommendations/{rec_id['id']}/split.csv", headers=headers)
    assert saved.read_bytes() == served.content
    split = pd.read_csv(io.BytesIO(served.content))
    assert len(split) == len(arms) and split["budget"].sum() == pytest.approx(1200, abs=0.01)
    shot(page, "3-approved")

    # A creative that arrives later still competes when the next split starts from the
    # approved one (whose arms would otherwise be the only ones).
    newcomer = stats[stats["date"] == stats["date"].max()].head(1).assign(creative="new_video")
    newcomer_csv = tmp_path / "newcomer.csv"
    newcomer.to_csv(newcomer_csv, index=False)
    page.set_input_files("input[name=file]", newcomer_csv)
    page.click("button:has-text('Upload')")
    expect(page.get_by_test_id("flash")).to_contain_text("1 new arm-days")
    page.click("button:has-text('Recommend')")
    expect(page.get_by_test_id("flash")).to_contain_text("is ready for review")
    grid = page.get_by_test_id("arms")
    expect(grid.locator("tbody tr")).to_have_count(len(arms) + 1)
    expect(grid.locator("tr", has_text="new_video").locator("td").nth(2)).to_have_text("0.00")
    shot(page, "3b-next-recommendation")


def test_edit_checks_total_and_bounds_before_sending(site: dict[str, str], page: Page) -> None:
    base, cid = site["base"], site["campaign"]
    bot = {"Authorization": f"Bearer {site['automation']}"}
    with open(SAMPLE, "rb") as f:
        r = httpx.post(f"{base}/v1/campaigns/{cid}/stats", files={"file": f}, headers=bot)
    assert r.status_code == 200, r.text
    rec = httpx.post(
        f"{base}/v1/campaigns/{cid}/recommendations", json={"budget": 1000}, headers=bot, timeout=60
    ).json()

    sign_in(page, base, site["specialist"])
    page.goto(f"{base}/ui/#/campaigns/{cid}")
    ready(page, "campaign")
    # A specialist decides but neither uploads nor asks for recommendations.
    expect(page.locator("input[name=file]")).to_have_count(0)
    expect(page.locator("text=Uploading needs an automation key")).to_be_visible()

    page.click("button:has-text('Reject')")  # without a note: stopped on the page
    expect(page.get_by_role("alert")).to_contain_text("a rejection needs one")

    page.click("button:has-text('Edit split')")
    inputs = page.locator("input[name^='budget:']")
    expect(inputs).to_have_count(len(rec["allocations"]))
    names = [inputs.nth(i).get_attribute("name") for i in (0, 1)]
    first, second = (page.locator(f"input[name='{n}']") for n in names)
    a, b = float(first.input_value()), float(second.input_value())
    send = page.locator("button:has-text('Send edited split')")
    first.fill(f"{a + 50:.2f}")
    expect(page.get_by_test_id("edit-bar")).to_contain_text("50.00 over the budget")
    expect(send).to_be_disabled()
    page.click("th:has-text('Audience')")  # re-sorting redraws the grid; the edit stays
    expect(first).to_have_value(f"{a + 50:.2f}")
    expect(page.get_by_test_id("edit-bar")).to_contain_text("50.00 over the budget")
    second.fill("-1")
    expect(page.get_by_test_id("edit-bar")).to_contain_text("1 arm out of bounds")
    expect(send).to_be_disabled()
    moved = min(50.0, b)
    first.fill(f"{a + moved:.2f}")
    second.fill(f"{b - moved:.2f}")
    expect(page.get_by_test_id("edit-bar")).to_contain_text("adds up")
    shot(page, "4-edit")
    send.click()
    expect(page.get_by_test_id("flash")).to_contain_text("Your split")
    stored = httpx.get(f"{base}/v1/recommendations/{rec['id']}", headers=bot).json()
    assert stored["status"] == "edited"
    assert sum(s["budget"] for s in stored["final_split"]) == pytest.approx(1000, abs=0.01)
    expect(page.get_by_test_id("decisions")).to_contain_text("ana")


def test_viewer_reads_but_sees_no_decision_buttons(site: dict[str, str], page: Page) -> None:
    base, cid = site["base"], site["campaign"]
    bot = {"Authorization": f"Bearer {site['automation']}"}
    with open(SAMPLE, "rb") as f:
        httpx.post(f"{base}/v1/campaigns/{cid}/stats", files={"file": f}, headers=bot)
    httpx.post(
        f"{base}/v1/campaigns/{cid}/recommendations", json={"budget": 500}, headers=bot, timeout=60
    )
    sign_in(page, base, site["viewer"])
    expect(page.get_by_test_id("campaigns")).to_contain_text("pending")
    page.goto(f"{base}/ui/#/campaigns/{cid}")
    ready(page, "campaign")
    expect(page.get_by_test_id("arms").locator("tbody tr").first).to_be_visible()
    expect(page.locator("button:has-text('Approve')")).to_have_count(0)
    expect(page.locator("button:has-text('Edit split')")).to_have_count(0)
    expect(page.get_by_test_id("actions")).to_contain_text("can read")
    # the charts drew one line per arm
    n_arms = len(pd.read_csv(SAMPLE)[["creative", "audience"]].drop_duplicates())
    spend_chart = page.locator(".card", has_text="Spend per arm per day").locator("svg path")
    expect(spend_chart).to_have_count(n_arms)
    # pointing at the chart names the day, the nearest arm and the coloured arms' values
    chart = page.locator(".card", has_text="Spend per arm per day")
    chart.locator("svg rect[fill=transparent]").hover()
    cursor = chart.locator("g.cursor")
    expect(cursor).to_have_attribute("visibility", "visible")
    lines = cursor.locator("tspan").all_text_contents()
    assert re.fullmatch(r"\d{1,2} Oct", lines[0]), lines
    assert all(re.fullmatch(r"[\w ]+ / [\w ]+: [\d.]+", line) for line in lines[1:]), lines
    assert len(lines) in (7, 8)  # the date, the nearest arm, the six coloured arms (or five)
    chart.screenshot(path=ARTIFACTS / "5b-chart-cursor.png")
    shot(page, "5-viewer")
    page.goto(f"{base}/ui/#/campaigns/999")
    ready(page, "error")
    expect(page.get_by_role("alert")).to_contain_text("no campaign with id 999")

    # Revoking the key signs the page out at its next call.
    admin = {"Authorization": f"Bearer {site['admin']}"}
    val = next(k for k in httpx.get(f"{base}/v1/keys", headers=admin).json() if k["name"] == "val")
    assert httpx.delete(f"{base}/v1/keys/{val['id']}", headers=admin).status_code == 200
    page.click("nav >> text=Campaigns")
    ready(page, "signin")
    expect(page.locator(".warning")).to_contain_text("not accepted any more")
    assert page.evaluate("sessionStorage.getItem('adbandit.key')") is None


def test_campaigns_list_sorts_and_keeps_the_window(site: dict[str, str], page: Page) -> None:
    base = site["base"]
    bot = {"Authorization": f"Bearer {site['automation']}"}
    stats = pd.read_csv(SAMPLE)
    for name, factor in [("cheap", 0.5), ("dear", 2.0)]:
        cid = httpx.post(f"{base}/v1/campaigns", json={"name": name}, headers=bot).json()["id"]
        rows = stats.drop(columns="campaign").assign(spend=stats["spend"] * factor)
        body = rows.to_csv(index=False).encode()
        r = httpx.post(
            f"{base}/v1/campaigns/{cid}/stats", files={"file": ("s.csv", body)}, headers=bot
        )
        assert r.status_code == 200, r.text
    sign_in(page, base, site["viewer"])
    names = page.get_by_test_id("campaigns").locator("tbody tr td:first-child")
    expect(names).to_have_text(["autumn_sale", "cheap", "dear"])
    page.click("th:has-text('CPA')")  # highest first
    expect(names).to_have_text(["dear", "cheap", "autumn_sale"])  # no stats: last
    page.click("th:has-text('CPA')")
    expect(names).to_have_text(["autumn_sale", "cheap", "dear"])
    page.select_option("select[name=window]", "7")
    ready(page, "campaigns")
    expect(names).to_have_text(["autumn_sale", "cheap", "dear"])  # still sorted by CPA
    assert "sort=cpa" in page.url and "days=7" in page.url
    spend = pd.Timestamp(stats["date"].max()) - pd.Timedelta(days=6)
    week = stats[pd.to_datetime(stats["date"]) >= spend]["spend"].sum() * 2.0
    expect(names.nth(2).locator("xpath=..")).to_contain_text(f"{week:,.2f}")
    page.click("button:has-text('Sign out')")
    ready(page, "signin")
    assert page.evaluate("sessionStorage.getItem('adbandit.key')") is None


def test_platform_export_round_trip_downloads_in_its_layout(
    site: dict[str, str], page: Page, tmp_path: Path
) -> None:
    base, cid = site["base"], site["campaign"]
    sign_in(page, base, site["automation"])
    page.goto(f"{base}/ui/#/campaigns/{cid}")
    ready(page, "campaign")
    page.set_input_files("input[name=file]", META)
    page.click("button:has-text('Upload')")
    expect(page.get_by_test_id("flash")).to_contain_text("Read as a meta export")
    page.fill("input[name=budget]", "300")
    page.select_option("select[name=objective]", "revenue")
    page.click("button:has-text('Recommend')")
    expect(page.get_by_test_id("flash")).to_contain_text("is ready for review")
    # a revenue objective shows each arm's ROAS interval rather than conversions per spend
    expect(page.get_by_test_id("arms").locator("thead")).to_contain_text("ROAS")
    expect(page.locator("h2", has_text="Posterior ROAS (credible interval)")).to_be_visible()
    page.click("button:has-text('Approve')")
    expect(page.get_by_test_id("flash")).to_contain_text("approved")
    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    assert info.value.suggested_filename.endswith("-meta.csv")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    header = saved.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "Campaign Name,Ad Set Name,Ad Name,Ad Set Daily Budget"  # Meta bulk edit


def test_ab_test_and_compare_pages(site: dict[str, str], page: Page) -> None:
    base = site["base"]
    sign_in(page, base, site["viewer"])
    page.click("nav >> text=A/B test")
    ready(page, "abtest")
    expect(page.get_by_test_id("verdict")).to_contain_text("Stop the test: B wins.")
    expect(page.get_by_test_id("srm")).to_contain_text("split as planned")
    page.fill("textarea[name=variants]", "variant,users,conversions\nA,10000,420\nB,12000,400\n")
    page.click("button:has-text('Analyse')")
    expect(page.get_by_test_id("srm")).to_contain_text("sample ratio mismatch")
    expect(page.get_by_test_id("verdict")).not_to_contain_text("wins")
    page.fill("textarea[name=variants]", "variant,users,conversions\nA,10000,4.5\nB,100,1\n")
    page.click("button:has-text('Analyse')")
    expect(page.get_by_role("alert")).to_contain_text("row 1, conversions")
    shot(page, "6-abtest")

    page.click("nav >> text=Compare")
    ready(page, "compare")
    page.check("input[name=experiment][value=policies]")
    page.fill("input[name=baseline]", "uniform")
    page.click("button:has-text('Compare')")
    table = page.get_by_test_id("comparison")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tr", has_text="adbandit")).to_contain_text("-50.0%")
    link = table.locator("tr", has_text="uniform").locator("a")
    expect(link).to_have_attribute(
        "href", re.compile(r"^http://mlflow\.test:5000/#/experiments/\w+/runs/\w+$")
    )
    shot(page, "7-compare")


def test_names_are_shown_as_text_never_run(site: dict[str, str], page: Page) -> None:
    """Campaign, creative and audience names come from files people upload."""
    base = site["base"]
    bot = {"Authorization": f"Bearer {site['automation']}"}
    evil = "<img src=x onerror=alert(1)>"
    cid = httpx.post(f"{base}/v1/campaigns", json={"name": f"<b>{evil}</b>"}, headers=bot)
    cid = cid.json()["id"]
    rows = [
        {
            "date": f"2026-11-0{d}",
            "creative": creative,
            "audience": "<script>alert(2)</script>",
            "impressions": 1000,
            "clicks": 50,
            "spend": 20.0,
            "conversions": 2,
        }
        for d in range(1, 8)
        for creative in (evil, "plain")
    ]
    r = httpx.post(f"{base}/v1/campaigns/{cid}/stats", json={"rows": rows}, headers=bot)
    assert r.status_code == 200, r.text
    httpx.post(
        f"{base}/v1/campaigns/{cid}/recommendations", json={"budget": 100}, headers=bot, timeout=60
    ).raise_for_status()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, base, site["viewer"])
    expect(page.get_by_test_id("campaigns")).to_contain_text(f"<b>{evil}</b>")
    page.goto(f"{base}/ui/#/campaigns/{cid}")
    ready(page, "campaign")
    expect(page.get_by_test_id("campaign-name")).to_have_text(f"<b>{evil}</b>")
    expect(page.get_by_test_id("arms")).to_contain_text(evil)
    expect(page.get_by_test_id("arms")).to_contain_text("<script>alert(2)</script>")
    assert page.locator("img[src=x]").count() == 0 and page.locator("main script").count() == 0
    assert dialogs == []


def test_platform_vs_analytics_shows_the_broken_pixel(
    site: dict[str, str], page: Page, tmp_path: Path
) -> None:
    from tests.service.test_analytics import disagreeing

    base, cid = site["base"], site["campaign"]
    bot = {"Authorization": f"Bearer {site['automation']}"}
    stats_path, ga_path = disagreeing(tmp_path)  # arm b's platform pixel breaks on day 12
    sign_in(page, base, site["viewer"])
    with open(stats_path, "rb") as f:
        httpx.post(f"{base}/v1/campaigns/{cid}/stats", files={"file": f}, headers=bot)
    # Stats alone: nothing to compare, no section (and no reconciliation call).
    page.goto(f"{base}/ui/#/campaigns/{cid}")
    ready(page, "campaign")
    expect(page.get_by_test_id("kpis")).to_be_visible()
    expect(page.get_by_test_id("reconciliation")).to_have_count(0)

    with open(ga_path, "rb") as f:
        r = httpx.post(f"{base}/v1/campaigns/{cid}/analytics", files={"file": f}, headers=bot)
    assert r.status_code == 200, r.text
    rows = httpx.get(f"{base}/v1/campaigns/{cid}/reconciliation", headers=bot).json()["rows"]
    table = pd.DataFrame(rows)
    totals = table.groupby("creative")[["platform", "analytics"]].sum()
    n_flagged = int(table["flag"].sum())
    assert n_flagged >= 2 and set(table.loc[table["flag"], "creative"]) == {"b"}

    page.reload()
    ready(page, "campaign")
    card = page.get_by_test_id("reconciliation")
    expect(card).to_contain_text("Recommendations use the ad platform")
    expect(card.locator("h3")).to_have_text(f"{n_flagged} flagged arm-days")
    flagged = card.get_by_test_id("flagged-days").locator("tbody tr")
    expect(flagged).to_have_count(n_flagged)
    expect(flagged.first).to_contain_text("b / all")
    # per arm: the flagged arm first, totals and the gap as the sources counted them
    arms = card.get_by_test_id("reconciliation-arms").locator("tbody tr")
    expect(arms).to_have_count(2)
    for i, arm in enumerate(["b", "a"]):
        platform, analytics = totals.loc[arm]
        gap = round(100 * (analytics / platform - 1))
        cells = arms.nth(i).locator("td")
        expect(cells.nth(0)).to_have_text(f"{arm} / all")
        expect(cells.nth(1)).to_have_text(f"{platform:,.0f}")
        expect(cells.nth(2)).to_have_text(f"{analytics:,.0f}")
        expect(cells.nth(3)).to_have_text(f"{'+' if gap > 0 else ''}{gap}%")
    expect(arms.nth(0).locator("td").nth(4)).to_have_text(str(n_flagged))
    expect(card.locator("svg path")).to_have_count(2)  # platform and analytics per day
    card.screenshot(path=ARTIFACTS / "8-reconciliation.png")

    # The window picks the days shown; the broken days are the last three.
    page.select_option("select[name=window]", "7")
    ready(page, "campaign")
    expect(page.get_by_test_id("flagged-days").locator("tbody tr")).to_have_count(
        int(table.loc[table["date"] >= "2026-11-08", "flag"].sum())
    )
    expect(page.get_by_test_id("reconciliation-arms").locator("tbody tr").first).to_contain_text(
        "b / all"
    )
