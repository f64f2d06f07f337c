"""Users from the terminal and per-user trading: the first user is the admin and owns what was
there before; passwords hashed; API tokens hashed; every user's own bot, and the admin's switch
that stops them all. On one Kafka broker: the web app's and the CLI's rules are what is tested
(the pipeline under them runs on both elsewhere)."""
import re
import subprocess

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from schemas import sql
from tests.integration.harness import SECRETS, Pipeline
from webapp import links, users

pytestmark = pytest.mark.one_kafka_broker


def run(p, *args, stdin=None, ok=True):
    out = subprocess.run(p.cli(*args), env=p.env, capture_output=True, text=True, timeout=60,
                         input=stdin)
    assert (out.returncode == 0) is ok, out.stdout + out.stderr
    return out


def test_a_new_data_dir_gets_an_admin_who_owns_what_existed(tmp_path):
    eng = sql.engine(f"sqlite:///{tmp_path / 'u.db'}")
    old = links.add_link(eng, name="before", strategy="st", quantity=1,    # no user yet
                         token_key=Fernet.generate_key())
    admin = users.acting_user(eng, None, say=lambda text: None)
    assert admin["username"] == "admin" and admin["is_admin"]
    assert links.link_by_id(eng, old["id"], admin["id"]) is not None
    assert users.authenticate(eng, "admin", "") is None        # no usable password yet
    trader = users.add_user(eng, "Trader1", "correct horse", first_name="T")
    assert (trader["username"], trader["is_admin"]) == ("trader1", False)
    assert users.authenticate(eng, "trader1", "correct horse")["id"] == trader["id"]
    assert users.authenticate(eng, "trader1", "wrong horse") is None
    assert users.authenticate(eng, "nobody", "correct horse") is None
    with eng.connect() as conn:
        stored = conn.execute(select(sql.users.c.password_hash)
                              .where(sql.users.c.id == trader["id"])).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    token = users.new_token(eng, trader["id"], "bot")
    assert users.user_by_token(eng, token)["id"] == trader["id"]
    assert users.revoke_token(eng, trader["id"], token) and users.user_by_token(eng, token) is None


def test_user_verbs(pipeline):
    out = run(pipeline, "user", "add", "Alice", "--first", "Alice", "--password-stdin",
              stdin="s3cret-enough\n")
    assert "user alice created" in out.stdout and "admin" not in out.stdout
    assert "alice" in run(pipeline, "user", "list").stdout
    assert run(pipeline, "user", "add", "bob", "--password-stdin", stdin="short\n",
               ok=False).stderr.strip() == "pinewire: error: password must be at least 8 characters"
    token = run(pipeline, "user", "token", "alice").stdout.strip()
    assert token.startswith("pw_") and users.user_by_token(pipeline.engine, token)["username"] \
        == "alice"
    run(pipeline, "link", "add", "--user", "alice", "--name", "mine", "--strategy", "st",
        "--qty", "1")
    assert "mine" in run(pipeline, "link", "list", "--user", "alice").stdout
    assert "mine" not in run(pipeline, "link", "list").stdout        # the admin's view
    assert "no link named 'mine'" in run(pipeline, "link", "show", "mine", ok=False).stderr


def test_each_users_bot_and_the_admins_global_switch(pipeline):
    other = users.add_user(pipeline.engine, "carol", "carol-password")
    mine = pipeline.add_link()
    hers = pipeline.add_link(user_id=other["id"])
    run(pipeline, "bot", "off", "--user", "carol")
    assert pipeline.alert_row(pipeline.alert(hers, "BUY", "ITC", price="412"))["reason"] == \
        "bot is stopped"
    assert pipeline.alert_row(pipeline.alert(mine, "BUY", "INFY", price="1520"))["status"] == \
        "ACCEPTED"
    run(pipeline, "bot", "on", "--user", "carol")
    assert "only the admin" in run(pipeline, "bot", "off", "--all", "--user", "carol",
                                   ok=False).stderr
    run(pipeline, "bot", "off", "--all")
    try:
        assert pipeline.alert_row(pipeline.alert(hers, "BUY", "ITC", price="413"))[
            "reason"] == "bot is stopped"
        closing = pipeline.alert_row(pipeline.alert(mine, "SELL", "INFY", price="1521"))
        assert closing["status"] == "ACCEPTED" and "closing is never blocked" in \
            closing["reason"], "a stopped bot opens nothing, and still closes"
    finally:
        run(pipeline, "bot", "on", "--all")
    assert "allowed to run" in run(pipeline, "bot", "status", "--all").stdout


def test_ledger_rows_carry_their_owner(pipeline):
    link = pipeline.add_link()
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "HDFCBANK", price="1985"))
    pos = pipeline.position(alert["position_id"], "OPEN")
    orders = pipeline.rows(sql.orders, sql.orders.c.position_id == pos["id"])
    assert {alert["user_id"], pos["user_id"]} | {o["user_id"] for o in orders} == \
        {pipeline.user["id"]}


def _form(client: httpx.Client, path: str, **fields) -> httpx.Response:
    """A form posted as the browser does: with the page's CSRF token."""
    page = client.get(path)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    return client.post(path, data={"csrf": csrf, **fields})


def test_a_new_install_is_taken_only_with_its_setup_code_and_sign_out_ends_every_session(
        kafka_url, tmp_path):
    """Nobody can become the admin of a new install by reaching /register first: it takes the
    one-time code the operator got; registration is then closed. Signing out ends the user's
    sessions on the server: a cookie copied before no longer opens a page."""
    p = Pipeline(tmp_path, kafka_url)
    with p.engine.begin() as conn:      # the harness made an admin: a new install has none
        conn.execute(sql.api_tokens.delete())
        conn.execute(sql.users.delete())
    try:
        p.start_web()
        base = p.settings.base_url
        stranger = httpx.Client(base_url=base)
        assert "Setup code" in stranger.get("/register").text
        code = run(p, "user", "setup-code").stdout.strip()
        person = dict(username="owner", password="owner-password", password2="owner-password")
        SECRETS.update((code, person["password"]))
        refused = _form(stranger, "/register", code="not-the-code", **person)
        assert refused.status_code == 403 and "setup code is not right" in refused.text
        assert users.user_count(p.engine) == 0
        owner = httpx.Client(base_url=base)
        made = _form(owner, f"/register?code={code}", code=code, **person)
        assert made.status_code == 303 and made.headers["location"].startswith("/live")
        assert users.user_by_name(p.engine, "owner")["is_admin"]
        assert "a user exists already" in run(p, "user", "setup-code", ok=False).stderr
        closed = stranger.get("/register")
        assert closed.status_code == 403 and "Registration is closed" in closed.text
        late = stranger.post("/register", data=dict(username="late", password="late-password",
                                                    password2="late-password"))
        assert late.status_code == 403 and users.user_by_name(p.engine, "late") is None
        assert owner.get("/live").status_code == 200
        copied = httpx.Client(base_url=base, cookies=dict(owner.cookies))
        assert copied.get("/live").status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', owner.get("/live").text)[1]
        assert owner.post("/logout", data={"csrf": csrf}).status_code == 303
        after = copied.get("/live")
        assert after.status_code == 303 and after.headers["location"].startswith("/login")
    finally:
        p.stop()
