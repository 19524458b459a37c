"""Who may reach each endpoint: anyone, a signed-in judge, or an admin.

One walk over the app's URL map checks every route with every method, so no route can be
added without saying who may reach it: an endpoint missing from AUDIENCE fails the test.
The role guards answer before the view, so a refusal is told by its status alone (a visitor
is sent to the sign-in page, or gets 401 as JSON; a signed-in user of the wrong role gets
403) and changes nothing; the right audience gets past the guard, whatever the view then
answers (a 404 for an id that does not exist still shows that the guard let it through).
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Award, Entry, Flag, Round

from .conftest import PASSWORD, stored_files

ANYONE, JUDGE, ADMIN = "anyone", "judge", "admin"

AUDIENCE = {
    # Visitors: entering, receipts, the media of the pages, winners, language, signing in.
    "submit.show_landing": ANYONE,
    "submit.show_form": ANYONE,
    "submit.create_entry": ANYONE,
    "submit.find_receipt": ANYONE,
    "submit.show_recover": ANYONE,
    "submit.recover_receipts": ANYONE,
    "submit.issue_token": ANYONE,
    "submit.show_receipt": ANYONE,
    "submit.show_receipts": ANYONE,
    "submit.show_receipt_status": ANYONE,
    "submit.confirm_withdraw": ANYONE,
    "submit.withdraw_entry": ANYONE,
    # Resumable uploads: anyone may start one; each is bound to the session that started it.
    "tus.show_options": ANYONE,
    "tus.create_upload": ANYONE,
    "tus.show_upload": ANYONE,
    "tus.append_upload": ANYONE,
    "tus.delete_upload": ANYONE,
    "upload_check.show_upload_check": ANYONE,
    "media.show_media": ANYONE,
    "winners.show_winners": ANYONE,
    # The public gallery and the people's-choice vote (a vote card, not an account, lets in).
    "gallery.show_gallery": ANYONE,
    "gallery.show_gallery_entry": ANYONE,
    "gallery.vote_for_entry": ANYONE,
    "gallery.use_vote_token": ANYONE,
    # The booth's live wall: a public screen, its list and its events.
    "wall.show_wall": ANYONE,
    "wall.list_entries": ANYONE,
    "wall.stream_events": ANYONE,
    "wall.poll_events": ANYONE,
    "i18n.switch_language": ANYONE,
    "auth.show_login": ANYONE,
    "auth.login": ANYONE,
    "auth.logout": ANYONE,
    "too_large": ANYONE,  # the 413 page nginx asks the app for
    # Judges (admins are not judges).
    "judge.show_dashboard": JUDGE,
    "judge.show_next": JUDGE,
    "judge.show_entry": JUDGE,
    "judge.show_full": JUDGE,
    "judge.score_entry": JUDGE,
    "judge.recuse_entry": JUDGE,
    "judge.skip_entry": JUDGE,
    "judge.save_note": JUDGE,
    "judge.flag_entry": JUDGE,
    "judge.show_ranking": JUDGE,
    "judge.save_ranking": JUDGE,
    # Organisers.
    "admin.show_dashboard": ADMIN,
    "admin.show_judging": ADMIN,
    "admin.list_entries": ADMIN,
    "admin.show_entry": ADMIN,
    "admin.download_original": ADMIN,
    "admin.reject_entry": ADMIN,
    "admin.restore_entry": ADMIN,
    "admin.withdraw_entry": ADMIN,
    "admin.show_flag": ADMIN,
    "admin.dismiss_flag": ADMIN,
    "admin.list_judges": ADMIN,
    "admin.show_new_judge": ADMIN,
    "admin.create_judge": ADMIN,
    "admin.disable_judge": ADMIN,
    "admin.enable_judge": ADMIN,
    "admin.show_password_form": ADMIN,
    "admin.reset_password": ADMIN,
    "admin.list_rounds": ADMIN,
    "admin.show_criteria": ADMIN,
    "admin.update_criteria": ADMIN,
    "admin.switch_method": ADMIN,
    "admin.show_close_round": ADMIN,
    "admin.close_round": ADMIN,
    "admin.reopen_round": ADMIN,
    "admin.show_jury": ADMIN,
    "admin.update_quorum": ADMIN,
    "admin.update_deadline": ADMIN,
    "admin.update_judge": ADMIN,
    "admin.show_calibration": ADMIN,
    "admin.update_calibration": ADMIN,
    "admin.show_schulze": ADMIN,
    "admin.show_leaderboard": ADMIN,
    "admin.show_awards": ADMIN,
    "admin.confirm_propose_awards": ADMIN,
    "admin.propose_awards": ADMIN,
    "admin.give_award": ADMIN,
    "admin.remove_award": ADMIN,
    "admin.add_award": ADMIN,
    "admin.confirm_publish_awards": ADMIN,
    "admin.publish_awards": ADMIN,
    "admin.unpublish_awards": ADMIN,
    "admin.export_entries_csv": ADMIN,
    "admin.export_leaderboard": ADMIN,
    "admin.export_winners_csv": ADMIN,
    "admin.export_winners_xlsx": ADMIN,
    "admin.export_winners_zip": ADMIN,
    "admin.export_winners_public_zip": ADMIN,
    "admin.show_poster": ADMIN,
    "admin.show_wall_queue": ADMIN,
    "admin.approve_for_wall": ADMIN,
    "admin.hide_from_wall": ADMIN,
    "admin.show_reveal": ADMIN,
    "admin.show_contest_settings": ADMIN,
    "admin.update_contest_settings": ADMIN,
    "admin.close_submissions": ADMIN,
    "admin.show_audit": ADMIN,
    "admin.show_vote_tokens": ADMIN,
    "admin.make_vote_tokens": ADMIN,
    "admin.print_vote_tokens": ADMIN,
    "admin.void_vote_token": ADMIN,
    "admin.export_votes_csv": ADMIN,
    "admin.propose_peoples_choice": ADMIN,
}

# A value for each kind of URL argument: an id that does not exist, a key of no file.
DUMMY = {"int": 999_999, "path": "derived/zz/missing.jpg", "string": "missing"}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _url(app: Flask, rule, method: str, ids: dict[str, int]) -> str:
    """The rule's URL, with the real id of `ids` for an argument of that name, else a dummy."""
    values = {}
    for converter, name in _ARGUMENT.findall(rule.rule):
        kind = converter or "string"
        assert kind in DUMMY, f"{rule.rule}: add a dummy value for <{kind}:...> to DUMMY"
        values[name] = ids.get(name, DUMMY[kind])
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def _targets(app: Flask, make_user, make_entry) -> dict[str, int]:
    """Real rows for the refused requests to aim at: an entry, a judge, a round, a flag and an
    award, so that "the request changed nothing" means something."""
    entry_id = make_entry()
    user_id = make_user("judge-target")
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        flag = Flag(entry_id=entry_id, kind="near-duplicate", detail="access test")
        award = Award(
            contest_id=entry.contest_id,
            category_id=entry.category_id,
            entry_id=entry_id,
            tier="grand",
            position=1,
        )
        db.session.add_all([flag, award])
        db.session.commit()
        round_id = db.session.scalar(select(Round.id).order_by(Round.id))
        return {
            "entry_id": entry_id,
            "user_id": user_id,
            "round_id": round_id,
            "flag_id": flag.id,
            "award_id": award.id,
        }


def _state(app: Flask, upload_folder) -> tuple:
    """Every row of every table, and every stored file."""
    with app.app_context():
        rows = {
            table.name: sorted(map(tuple, db.session.execute(select(table))), key=repr)
            for table in db.metadata.sorted_tables
        }
    return rows, stored_files(upload_folder)


def _refused(response) -> bool:
    """Whether a role guard answered: sent to sign in (303 or JSON 401), or forbidden (403)."""
    to_login = response.status_code == 303 and response.headers["Location"].startswith("/login")
    return to_login or response.status_code in (401, 403)


def test_every_endpoint_lets_in_exactly_its_audience(
    app, client, make_user, make_entry, upload_folder
):
    rules = sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"),
        key=lambda rule: rule.endpoint,
    )
    endpoints = {rule.endpoint for rule in rules}
    assert sorted(endpoints - AUDIENCE.keys()) == [], "new endpoints: add them to AUDIENCE"
    assert sorted(AUDIENCE.keys() - endpoints) == [], "gone: remove them from AUDIENCE"
    requests = [
        (rule, method) for rule in rules for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]

    make_user("judge-kim")
    make_user("organiser-lee", role="admin")
    clients = {
        "anonymous": client,
        JUDGE: _signed_in(app, "judge-kim"),
        ADMIN: _signed_in(app, "organiser-lee"),
    }
    targets = _targets(app, make_user, make_entry)
    wrong = []

    # Everyone outside the audience is turned away, and nothing changes, even aimed at real rows.
    before = _state(app, upload_folder)
    for rule, method in requests:
        audience = AUDIENCE[rule.endpoint]
        if audience == ANYONE:
            continue
        url = _url(app, rule, method, targets)
        anonymous = clients["anonymous"].open(url, method=method)
        if not (anonymous.status_code == 303 and anonymous.location.startswith("/login?next=")):
            wrong.append(f"{method} {url} as a visitor: {anonymous.status} {anonymous.location}")
        as_json = clients["anonymous"].open(
            url, method=method, headers={"Accept": "application/json"}
        )
        if as_json.status_code != 401:
            wrong.append(f"{method} {url} as a visitor asking for JSON: {as_json.status}")
        for role in {JUDGE, ADMIN} - {audience}:
            response = clients[role].open(url, method=method)
            if response.status_code != 403:
                wrong.append(f"{method} {url} as {role}: {response.status}")
    assert _state(app, upload_folder) == before, "a refused request changed something"

    # The audience gets past the guard (ids that do not exist: the views answer 404).
    for who, client_ in list(clients.items()):
        for rule, method in requests:
            if AUDIENCE[rule.endpoint] not in (ANYONE, who):
                continue
            url = _url(app, rule, method, {})
            response = client_.open(url, method=method)
            if _refused(response):
                wrong.append(f"{method} {url} as {who}: {response.status} {response.location}")
            if rule.endpoint == "auth.logout" and who != "anonymous":
                client_ = clients[who] = _signed_in(
                    app, "judge-kim" if who == JUDGE else "organiser-lee"
                )

    assert wrong == []
