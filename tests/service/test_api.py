"""The HTTP API through FastAPI's TestClient over a real SQLite file."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import experiments
from service.app import create_app
from service.settings import Settings
from tests.conftest import REPO
from tests.service.conftest import auth

SAMPLE = f"{REPO}/data/sample_stats.csv"


def stats_rows(n_days: int = 14) -> list[dict[str, object]]:
    return [
        {
            "date": f"2026-03-{d:02d}",
            "creative": c,
            "audience": a,
            "impressions": 1000,
            "clicks": 40,
            "spend": 25.0,
            "conversions": conv,
            "revenue": 30.0 * conv,
        }
        for d in range(1, n_days + 1)
        for c, a, conv in (("c1", "a1", 1), ("c2", "a1", 3), ("c1", "a2", 2))
    ]


@pytest.fixture
def campaign(client: TestClient, keys: dict[str, str]) -> int:
    r = client.post(
        "/v1/campaigns",
        json={"name": "spring", "currency": "EUR"},
        headers=auth(keys["automation"]),
    )
    assert r.status_code == 201, r.text
    cid: int = r.json()["id"]
    r = client.post(
        f"/v1/campaigns/{cid}/stats", json={"rows": stats_rows()}, headers=auth(keys["automation"])
    )
    assert r.status_code == 200, r.text
    return cid


@pytest.fixture
def rec(client: TestClient, keys: dict[str, str], campaign: int) -> dict:  # type: ignore[type-arg]
    r = client.post(
        f"/v1/campaigns/{campaign}/recommendations",
        json={"budget": 300, "seed": 3},
        headers=auth(keys["automation"]),
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# -- auth ---------------------------------------------------------------------------------

ROUTES = [  # method, path, body, least role
    ("get", "/v1/campaigns", None, "viewer"),
    ("post", "/v1/campaigns", {"name": "x"}, "automation"),
    ("get", "/v1/campaigns/1/stats", None, "viewer"),
    ("post", "/v1/campaigns/1/stats", {"rows": []}, "automation"),
    ("post", "/v1/campaigns/1/recommendations", {"budget": 10}, "automation"),
    ("get", "/v1/recommendations/1", None, "viewer"),
    ("post", "/v1/recommendations/1/approve", {}, "specialist"),
    ("post", "/v1/abtests/analyze", {}, "viewer"),
    ("get", "/v1/keys", None, "admin"),
    ("get", "/v1/me", None, "viewer"),
    ("get", "/v1/campaigns/1/decisions", None, "viewer"),
    ("post", "/v1/keys", {"name": "n", "role": "viewer"}, "admin"),
]
BELOW = {"automation": "specialist", "specialist": "viewer", "admin": "automation"}


@pytest.mark.parametrize(("method", "path", "body", "role"), ROUTES)
def test_every_route_needs_a_key_and_the_right_role(
    client: TestClient, keys: dict[str, str], method: str, path: str, body: object, role: str
) -> None:
    call = getattr(client, method)
    kwargs = {"json": body} if body is not None else {}
    missing = call(path, **kwargs)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "missing API key" in missing.json()["detail"]
    assert call(path, headers=auth("adb_nope_nope"), **kwargs).status_code == 401
    if role in BELOW:
        weak = call(path, headers=auth(keys[BELOW[role]]), **kwargs)
        assert weak.status_code == 403
        assert f"this needs {role!r}" in weak.json()["detail"]
    allowed = call(path, headers=auth(keys[role]), **kwargs)
    assert allowed.status_code not in (401, 403), allowed.text


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": None, "revision": None}
    assert client.get("/readyz").json() == {
        "status": "ok",
        "database": "sqlite",
        "revision": "0005",
    }


def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none",
        auto_migrate=False,
        tracking=False,
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"


def test_keys_are_created_listed_and_revoked_over_the_api(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = auth(keys["admin"])
    r = client.post("/v1/keys", json={"name": "bot", "role": "automation"}, headers=admin)
    assert r.status_code == 201
    new = r.json()
    assert new["key"].startswith(f"adb_{new['prefix']}_")
    assert client.get("/v1/campaigns", headers=auth(new["key"])).status_code == 200
    listed = client.get("/v1/keys", headers=admin).json()
    assert "bot" in [k["name"] for k in listed] and all("key" not in k for k in listed)
    assert (
        client.post("/v1/keys", json={"name": "bot", "role": "viewer"}, headers=admin).status_code
        == 409
    )
    assert client.delete(f"/v1/keys/{new['id']}", headers=admin).json()["revoked_at"] is not None
    assert client.get("/v1/campaigns", headers=auth(new["key"])).status_code == 401


# -- campaigns and stats --------------------------------------------------------------------


def test_campaign_errors(client: TestClient, keys: dict[str, str], campaign: int) -> None:
    h = auth(keys["automation"])
    dup = client.post("/v1/campaigns", json={"name": "spring"}, headers=h)
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    bad = client.post("/v1/campaigns", json={"name": "x", "currency": "euro"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "currency"
    assert client.get("/v1/campaigns/999", headers=h).status_code == 404
    got = client.get(f"/v1/campaigns/{campaign}", headers=h).json()
    assert (got["n_stats_rows"], got["first_date"], got["last_date"]) == (
        42,
        "2026-03-01",
        "2026-03-14",
    )


def test_bad_json_rows_name_row_field_and_rule_and_write_nothing(
    client: TestClient, keys: dict[str, str], campaign: int
) -> None:
    h = auth(keys["automation"])
    rows = stats_rows(2)
    rows[3]["clicks"] = 5000  # row 4: more clicks than impressions (the optimizer's rule)
    rows[4]["spend"] = -1  # row 5: the schema's rule
    r = client.post(f"/v1/campaigns/{campaign}/stats", json={"rows": rows}, headers=h)
    assert r.status_code == 422
    assert r.json()["problems"] == [
        {
            "row": 5,
            "field": "spend",
            "rule": "Input should be greater than or equal to 0",
            "value": -1,
        }
    ]
    rows[4]["spend"] = 1.0
    r = client.post(f"/v1/campaigns/{campaign}/stats", json={"rows": rows}, headers=h)
    assert r.status_code == 422
    assert r.json()["problems"] == [
        {"row": 4, "field": "clicks", "rule": "clicks (5000) > impressions (1000)", "value": 5000.0}
    ]
    after = client.get(f"/v1/campaigns/{campaign}/stats", headers=h).json()
    assert after["n_rows"] == 42 and {r["clicks"] for r in after["rows"]} == {40}


def test_unknown_fields_and_wrong_types_are_refused_not_coerced(
    client: TestClient, keys: dict[str, str], campaign: int
) -> None:
    h = auth(keys["automation"])
    row = stats_rows(1)[0]
    for broken, field in (({**row, "cost": 3}, "cost"), ({**row, "clicks": "40"}, "clicks")):
        r = client.post(f"/v1/campaigns/{campaign}/stats", json={"rows": [broken]}, headers=h)
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == field
        assert r.json()["problems"][0]["row"] == 1
    r = client.post(
        f"/v1/campaigns/{campaign}/stats",
        content=b"{not json",
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 422 and "Traceback" not in r.text
    r = client.post(
        f"/v1/campaigns/{campaign}/stats", content=b"x", headers={**h, "content-type": "text/plain"}
    )
    assert r.status_code == 415


def test_csv_upload_upserts_and_reports_bad_rows(
    client: TestClient, keys: dict[str, str], campaign: int
) -> None:
    h = auth(keys["automation"])
    head = "date,creative,audience,impressions,clicks,spend,conversions\n"
    good = head + "2026-03-14,c1,a1,1000,40,25,9\n2026-03-15,c1,a1,900,30,20,1\n"
    r = client.post(f"/v1/campaigns/{campaign}/stats", files={"file": ("s.csv", good)}, headers=h)
    assert r.status_code == 200 and r.json() | {"warnings": []} == {
        "n_rows": 2,
        "n_inserted": 1,
        "n_replaced": 1,
        "warnings": [],
        "platform": None,
        "currency": None,
        "notes": [],
        "quality": None,
    }
    bad = head + "2026-03-16,c1,a1,1000,40,25,1\n16.03.2026,c1,a1,1000,40,1;5,1\n"
    r = client.post(f"/v1/campaigns/{campaign}/stats", files={"file": ("s.csv", bad)}, headers=h)
    assert r.status_code == 422
    assert {(p["row"], p["field"]) for p in r.json()["problems"]} == {(2, "date"), (2, "spend")}
    got = client.get(
        f"/v1/campaigns/{campaign}/stats", params={"start": "2026-03-14"}, headers=h
    ).json()
    assert [(r["date"], r["creative"], r["audience"], r["conversions"]) for r in got["rows"]] == [
        ("2026-03-14", "c1", "a1", 9.0),
        ("2026-03-14", "c1", "a2", 2.0),
        ("2026-03-14", "c2", "a1", 3.0),
        ("2026-03-15", "c1", "a1", 1.0),
    ]
    r = client.post(f"/v1/campaigns/{campaign}/stats", files={"other": ("s.csv", good)}, headers=h)
    assert r.status_code == 422 and "'file' is missing" in r.json()["problems"][0]["rule"]
    r = client.get(
        f"/v1/campaigns/{campaign}/stats",
        params={"start": "2026-03-05", "end": "2026-03-01"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "end"


def test_sample_file_uploads_whole(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["automation"])
    cid = client.post("/v1/campaigns", json={"name": "autumn_sale"}, headers=h).json()["id"]
    with open(SAMPLE, "rb") as f:
        r = client.post(f"/v1/campaigns/{cid}/stats", files={"file": ("sample.csv", f)}, headers=h)
    assert r.json()["n_inserted"] == 336
    stored = pd.DataFrame(client.get(f"/v1/campaigns/{cid}/stats", headers=h).json()["rows"])
    original = pd.read_csv(SAMPLE)
    assert len(stored) == 336
    assert stored["spend"].sum() == pytest.approx(original["spend"].sum(), rel=1e-12)
    assert stored["conversions"].sum() == original["conversions"].sum()
    columns = ["date", "creative", "audience", "impressions", "clicks", "spend", "revenue"]
    expected = original.sort_values(["date", "creative", "audience"])[columns]
    pd.testing.assert_frame_equal(stored[columns], expected.reset_index(drop=True))


def test_event_logs_round_trip(client: TestClient, keys: dict[str, str], campaign: int) -> None:
    h = auth(keys["automation"])
    body = {
        "clicks": [
            {"click_id": "k1", "time": "2026-03-01T10:00:00Z", "creative": "c1", "audience": "a1"},
            {"click_id": "k2", "time": "2026-03-01T12:00:00", "creative": "c2", "audience": "a1"},
        ],
        "conversions": [{"click_id": "k1", "time": "2026-03-03T10:00:00Z", "value": 40}],
    }
    r = client.post(f"/v1/campaigns/{campaign}/events", json=body, headers=h)
    assert r.json() == {"n_clicks": 2, "n_conversions": 1}
    bad = {"conversions": [{"click_id": "nope", "time": "2026-03-03T10:00:00"}]}
    r = client.post(f"/v1/campaigns/{campaign}/events", json=bad, headers=h)
    assert r.status_code == 422 and r.json()["problems"][0]["row"] == 1
    got = client.get(f"/v1/campaigns/{campaign}/events", headers=h).json()
    assert [c["click_id"] for c in got["clicks"]] == ["k1", "k2"]
    assert got["conversions"] == [{"click_id": "k1", "time": "2026-03-03T10:00:00Z", "value": 40.0}]


# -- recommendations and decisions ----------------------------------------------------------


def test_recommendation_is_stored_and_reproducible(
    client: TestClient,
    keys: dict[str, str],
    campaign: int,
    rec: dict,  # type: ignore[type-arg]
) -> None:
    assert rec["status"] == "pending" and rec["created_by"] == "automation-key"
    arms = {(a["creative"], a["audience"]): a for a in rec["allocations"]}
    assert set(arms) == {("c1", "a1"), ("c2", "a1"), ("c1", "a2")}
    assert sum(a["budget"] for a in rec["allocations"]) == pytest.approx(300, abs=0.01)
    assert arms[("c2", "a1")]["budget"] == max(a["budget"] for a in rec["allocations"])
    assert all(a["reason"] for a in rec["allocations"])
    again = client.post(
        f"/v1/campaigns/{campaign}/recommendations",
        json={"budget": 300, "seed": 3},
        headers=auth(keys["automation"]),
    ).json()
    assert again["id"] != rec["id"] and again["allocations"] == rec["allocations"]
    fetched = client.get(f"/v1/recommendations/{rec['id']}", headers=auth(keys["viewer"])).json()
    assert fetched == rec
    listed = client.get(
        f"/v1/campaigns/{campaign}/recommendations", headers=auth(keys["viewer"])
    ).json()
    assert [r["id"] for r in listed] == [again["id"], rec["id"]]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"budget": -5}, "budget", "greater than or equal to 0.01"),
        ({"budget": 100, "config": {"flor": 0.1}}, None, "unknown setting(s) flor"),
        ({"budget": 100, "config": {"floor": "lots"}}, None, "floor ('lots') must be"),
        ({"budget": 100, "objective": "clicks"}, "objective", "Input should be"),
        (
            {
                "budget": 100,
                "current": [
                    {
                        "creative": "c1",
                        "audience": "a1",
                        "budget": 5,
                        "min_budget": 9,
                        "max_budget": 3,
                    }
                ],
            },
            "max_budget",
            "max_budget (3.0) < min_budget (9.0)",
        ),
        (
            {
                "budget": 100,
                "current": [{"creative": "c1", "audience": "a1", "budget": 5, "min_budget": 200}],
            },
            None,
            "",
        ),
    ],
)
def test_bad_recommendation_requests_are_422(
    client: TestClient,
    keys: dict[str, str],
    campaign: int,
    body: dict,
    field: str | None,
    rule: str,  # type: ignore[type-arg]
) -> None:
    r = client.post(
        f"/v1/campaigns/{campaign}/recommendations", json=body, headers=auth(keys["automation"])
    )
    assert r.status_code == 422, r.text
    text = r.json()["detail"] + " ".join(p["rule"] for p in r.json()["problems"])
    assert rule in text
    if field:
        assert field in {p["field"] for p in r.json()["problems"]}


def test_as_of_is_an_iso_date(client: TestClient, keys: dict[str, str], campaign: int) -> None:
    h = auth(keys["automation"])
    body = {"budget": 300, "as_of": "2026-03-10"}
    r = client.post(f"/v1/campaigns/{campaign}/recommendations", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert (r.json()["as_of"], r.json()["data_end"]) == ("2026-03-10", "2026-03-09")
    body["as_of"] = "10.03.2026"
    r = client.post(f"/v1/campaigns/{campaign}/recommendations", json=body, headers=h)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "as_of"


def test_campaign_without_stats_says_so(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["automation"])
    cid = client.post("/v1/campaigns", json={"name": "empty"}, headers=h).json()["id"]
    r = client.post(f"/v1/campaigns/{cid}/recommendations", json={"budget": 10}, headers=h)
    assert r.status_code == 422 and "has no stats yet" in r.json()["problems"][0]["rule"]
    assert (
        client.post("/v1/campaigns/77/recommendations", json={"budget": 10}, headers=h).status_code
        == 404
    )


def test_approve_records_who_and_only_once(
    client: TestClient, keys: dict[str, str], rec: dict
) -> None:  # type: ignore[type-arg]
    rid = rec["id"]
    pending = client.get(f"/v1/recommendations/{rid}/split.csv", headers=auth(keys["viewer"]))
    assert pending.status_code == 409
    r = client.post(
        f"/v1/recommendations/{rid}/approve", json={"note": "ok"}, headers=auth(keys["specialist"])
    )
    assert r.status_code == 200
    out = r.json()
    assert out["status"] == "approved"
    assert [(d["action"], d["key_name"], d["note"]) for d in out["decisions"]] == [
        ("approve", "specialist-key", "ok")
    ]
    assert out["final_split"] == [
        {"creative": a["creative"], "audience": a["audience"], "budget": a["budget"]}
        for a in rec["allocations"]
    ]
    again = client.post(
        f"/v1/recommendations/{rid}/reject", json={"note": "no"}, headers=auth(keys["admin"])
    )
    assert (
        again.status_code == 409
        and "already approved by 'specialist-key'" in again.json()["detail"]
    )
    csv = client.get(f"/v1/recommendations/{rid}/split.csv", headers=auth(keys["viewer"]))
    assert csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text))
    assert list(table.columns) == ["creative", "audience", "budget"]
    assert table["budget"].sum() == pytest.approx(300, abs=0.01)


def test_reject_needs_note_and_edit_checks_the_split(
    client: TestClient, keys: dict[str, str], rec: dict
) -> None:  # type: ignore[type-arg]
    h = auth(keys["specialist"])
    rid = rec["id"]
    r = client.post(f"/v1/recommendations/{rid}/reject", json={}, headers=h)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "note"
    split = [
        {"creative": a["creative"], "audience": a["audience"], "budget": 100.0}
        for a in rec["allocations"]
    ]
    split[0]["budget"] = 90.0
    r = client.post(f"/v1/recommendations/{rid}/edit", json={"split": split}, headers=h)
    assert r.status_code == 422 and "adds up to 290.00" in r.json()["problems"][0]["rule"]
    split[0]["budget"] = 100.0
    r = client.post(
        f"/v1/recommendations/{rid}/edit", json={"split": split, "note": "even"}, headers=h
    )
    assert r.status_code == 200
    assert r.json()["status"] == "edited" and r.json()["final_split"] == split
    assert r.json()["allocations"] == rec["allocations"]  # the recommended split stays beside it
    assert client.post("/v1/recommendations/999/approve", headers=h).status_code == 404


# -- A/B tests and experiments --------------------------------------------------------------


def test_abtest_matches_the_experiments_package(client: TestClient, keys: dict[str, str]) -> None:
    body = {
        "control": "A",
        "variants": [
            {"variant": "A", "users": 10000, "conversions": 420},
            {"variant": "B", "users": 10050, "conversions": 480},
        ],
    }
    r = client.post("/v1/abtests/analyze", json=body, headers=auth(keys["viewer"]))
    assert r.status_code == 200
    out = r.json()
    want = experiments.analyze_ab(pd.DataFrame(body["variants"]), control="A")
    assert out["variants"][1]["chance_to_beat_control"] == pytest.approx(
        want.loc[1, "chance_to_beat_control"], abs=1e-12
    )
    assert out["variants"][0]["chance_to_beat_control"] is None
    verdict = experiments.stopping_rule(want, srm=experiments.srm_check(want))
    assert out["srm"]["mismatch"] is False
    assert (out["stop"], out["winner"], out["verdict"]) == (
        verdict.stop,
        verdict.winner,
        verdict.reason,
    )
    assert out["winner"] == "B"
    bad = client.post(
        "/v1/abtests/analyze", json={**body, "control": "Z"}, headers=auth(keys["viewer"])
    )
    assert bad.status_code == 422 and "Z" in bad.text


def test_experiments_list_and_compare_read_mlflow(tmp_path, keys: dict[str, str], db) -> None:  # type: ignore[no-untyped-def]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = experiments.Tracker("policies", uri=uri, root=tmp_path)
    a = tracker.log_run("uniform", metrics={"regret": 10.0, "regret_low": 8.0, "regret_high": 12.0})
    b = tracker.log_run("adbandit", metrics={"regret": 5.0, "regret_low": 4.0, "regret_high": 6.0})
    settings = Settings(
        database_url=db.url, tracking=False, tracking_uri=uri, mlflow_ui_url="http://mlflow:5000"
    )
    with TestClient(create_app(settings)) as c:
        h = auth(keys["viewer"])
        listed = c.get("/v1/experiments", headers=h).json()
        policies = next(e for e in listed if e["name"] == "policies")
        assert policies["n_runs"] == 2 and policies["url"].startswith(
            "http://mlflow:5000/#/experiments/"
        )
        r = c.get("/v1/experiments/compare", params={"runs": f"{a},{b}", "baseline": a}, headers=h)
        runs = {row["name"]: row for row in r.json()["runs"]}
        assert runs["adbandit"]["regret"] == 5.0 and runs["adbandit"]["regret_vs_baseline"] == -0.5
        assert runs["adbandit"]["url"] == (
            f"http://mlflow:5000/#/experiments/{policies['experiment_id']}/runs/{b}"
        )
        assert (
            c.get("/v1/experiments/compare", params={"runs": "nope"}, headers=h).status_code == 404
        )
        assert (
            c.get("/v1/experiments/compare", params={"baseline": "x"}, headers=h).status_code == 422
        )


def test_campaign_window_totals_and_latest_state(
    client: TestClient,
    keys: dict[str, str],
    rec: dict,  # type: ignore[type-arg]
) -> None:
    h = auth(keys["viewer"])
    cid = rec["campaign_id"]
    # stats_rows: 3 arms x 14 days, 25.0 spend each; conversions 1 + 3 + 2 a day, revenue 30 each
    got = client.get(
        f"/v1/campaigns/{cid}", params={"start": "2026-03-02", "end": "2026-03-03"}, headers=h
    )
    assert got.json()["window"] == {
        "start": "2026-03-02",
        "end": "2026-03-03",
        "spend": 150.0,
        "conversions": 12.0,
        "revenue": 360.0,
        "cpa": 12.5,
        "roas": 2.4,
    }
    listed = client.get("/v1/campaigns", headers=h).json()
    assert listed[0]["window"]["spend"] == 14 * 3 * 25.0
    # the last 2 days of stored data (the stats run 2026-03-01 .. 03-14)
    last2 = client.get(f"/v1/campaigns/{cid}", params={"days": 2}, headers=h).json()["window"]
    assert (last2["start"], last2["end"], last2["spend"]) == ("2026-03-13", "2026-03-14", 150.0)
    assert client.get("/v1/campaigns", params={"days": 2}, headers=h).json()[0]["window"] == last2
    rows = client.get(f"/v1/campaigns/{cid}/stats", params={"days": 2}, headers=h).json()["rows"]
    assert {r["date"] for r in rows} == {"2026-03-13", "2026-03-14"}
    both = client.get(f"/v1/campaigns/{cid}", params={"days": 2, "end": "2026-03-14"}, headers=h)
    assert both.status_code == 422 and both.json()["problems"][0]["field"] == "days"
    assert listed[0]["latest_recommendation"]["status"] == "pending"
    client.post(f"/v1/recommendations/{rec['id']}/approve", headers=auth(keys["specialist"]))
    again = client.get(f"/v1/campaigns/{cid}", headers=h).json()
    assert again["latest_recommendation"] == {
        "id": rec["id"],
        "status": "approved",
        "created_at": rec["created_at"],
    }
    bad = client.get(
        f"/v1/campaigns/{cid}", params={"start": "2026-03-05", "end": "2026-03-01"}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "end"


def test_history_of_budget_and_p_best(
    client: TestClient,
    keys: dict[str, str],
    campaign: int,
    rec: dict,  # type: ignore[type-arg]
) -> None:
    h = auth(keys["automation"])
    later = client.post(
        f"/v1/campaigns/{campaign}/recommendations", json={"budget": 600, "seed": 3}, headers=h
    ).json()
    points = client.get(f"/v1/campaigns/{campaign}/history", headers=auth(keys["viewer"])).json()
    assert [p["id"] for p in points] == [rec["id"], later["id"]]  # oldest first
    first = {(a["creative"], a["audience"]): a for a in points[0]["arms"]}
    for a in rec["allocations"]:
        assert first[(a["creative"], a["audience"])] == {
            "creative": a["creative"],
            "audience": a["audience"],
            "budget": a["budget"],
            "p_best": a["p_best"],
        }
    assert sum(a["budget"] for a in points[1]["arms"]) == pytest.approx(600, abs=0.01)
    assert client.get("/v1/campaigns/99/history", headers=h).status_code == 404


# -- what the review page reads -------------------------------------------------------------


def test_me_names_the_key_and_its_role(client: TestClient, keys: dict[str, str]) -> None:
    for role, key in keys.items():
        me = client.get("/v1/me", headers=auth(key)).json()
        assert me == {
            "name": f"{role}-key",
            "role": role,
            "roles": ["viewer", "specialist", "automation", "admin"],
        }


def test_recommendation_carries_the_bounds_an_edit_must_keep(
    client: TestClient, keys: dict[str, str], campaign: int
) -> None:
    current = [
        {"creative": "c0", "audience": "a", "budget": 100.0, "min_budget": 20.0},
        {"creative": "c1", "audience": "a", "budget": 100.0, "max_budget": 150.0},
        {"creative": "c2", "audience": "a", "budget": 50.0, "locked": True},
    ]
    r = client.post(
        f"/v1/campaigns/{campaign}/recommendations",
        json={"budget": 300, "current": current, "config": {"max_spend": 200.0}},
        headers=auth(keys["automation"]),
    )
    assert r.status_code == 201, r.text
    bounds = {(b["creative"], b["audience"]): b for b in r.json()["bounds"]}
    assert bounds == {
        ("c0", "a"): {
            "creative": "c0",
            "audience": "a",
            "min_budget": 20.0,
            "max_budget": 200.0,
            "locked_budget": None,
        },
        ("c1", "a"): {
            "creative": "c1",
            "audience": "a",
            "min_budget": 0.0,
            "max_budget": 150.0,
            "locked_budget": None,
        },
        ("c2", "a"): {
            "creative": "c2",
            "audience": "a",
            "min_budget": 0.0,
            "max_budget": 200.0,
            "locked_budget": 50.0,
        },
    }
    # the page's check and the server's agree: c1 above its max is refused by the server too
    split = [{"creative": c, "audience": "a", "budget": b} for c, b in [("c0", 90), ("c1", 160)]]
    split.append({"creative": "c2", "audience": "a", "budget": 50.0})
    rid = r.json()["id"]
    bad = client.post(
        f"/v1/recommendations/{rid}/edit", json={"split": split}, headers=auth(keys["specialist"])
    )
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["rule"].endswith("is outside its bounds [0, 150]")


def test_campaign_decisions_newest_first_and_only_its_own(
    client: TestClient, keys: dict[str, str], rec: dict
) -> None:  # type: ignore[type-arg]
    h = auth(keys["specialist"])
    client.post(f"/v1/recommendations/{rec['id']}/reject", json={"note": "too bold"}, headers=h)
    cid = rec["campaign_id"]
    again = client.post(
        f"/v1/campaigns/{cid}/recommendations",
        json={"budget": 300},
        headers=auth(keys["automation"]),
    ).json()
    client.post(f"/v1/recommendations/{again['id']}/approve", headers=h)
    other = client.post(
        "/v1/campaigns", json={"name": "other"}, headers=auth(keys["automation"])
    ).json()["id"]
    got = client.get(f"/v1/campaigns/{cid}/decisions", headers=auth(keys["viewer"])).json()
    assert [(d["recommendation_id"], d["action"], d["key_name"], d["note"]) for d in got] == [
        (again["id"], "approve", "specialist-key", ""),
        (rec["id"], "reject", "specialist-key", "too bold"),
    ]
    assert client.get(f"/v1/campaigns/{other}/decisions", headers=h).json() == []
    assert client.get("/v1/campaigns/999/decisions", headers=h).status_code == 404


def test_review_page_is_served_without_a_key_and_stays_out_of_the_api_schema(
    client: TestClient,
) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    scripts = re.findall(r'src="(/ui/static/[^"]+)"', page.text)
    assert scripts == ["/ui/static/app.js"]
    for name in ("app.js", "api.js", "campaign.js", "charts.js", "dom.js", "style.css"):
        asset = client.get(f"/ui/static/{name}")
        assert asset.status_code == 200 and asset.headers["cache-control"] == "no-cache", name
        text = asset.text.replace('"http://www.w3.org/2000/svg"', "")  # a name, not a fetch
        assert "http://" not in text and "https://" not in text, f"{name} goes online"
    assert client.get("/ui/static/nope.js").status_code == 404
    assert not [
        p
        for p in client.get("/openapi.json").json()["paths"]
        if not p.startswith("/v1") and p not in ("/healthz", "/readyz")
    ]
