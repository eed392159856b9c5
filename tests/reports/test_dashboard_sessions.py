"""Dashboard sessions: one key per installation, cookie flags, headers, logout, throttling."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from reports_conftest import DASHBOARD_TOKEN, PASSWORD, USERNAME
from sqlalchemy import func, select

from connector.dashboard import throttle
from connector.storage.models import InstallationSecret, LoginThrottle, utcnow

COOKIE = "session"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def log_in(client, username: str = USERNAME, password: str = PASSWORD):
    form = client.get("/dashboard/").get_data(as_text=True)
    return client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(form), "username": username, "password": password},
    )


def logged_in(client) -> bool:
    return b'id="sources"' in client.get("/dashboard/").data


def carry_cookie(source, target) -> None:
    """Put ``source``'s session cookie into ``target`` (another process, another browser)."""
    target.set_cookie(COOKIE, source.get_cookie(COOKIE).value)


@pytest.fixture
def no_key_config(dashboard_config) -> dict:
    """The dashboard config without dashboard.secret_key, as the README's default has it."""
    config = {**dashboard_config, "dashboard": dict(dashboard_config["dashboard"])}
    del config["dashboard"]["secret_key"]
    return config


@pytest.fixture
def two_workers(make_settings, make_app, no_key_config):
    """Two app instances on one database, like two gunicorn workers: no key configured."""
    settings = make_settings(no_key_config)
    return make_app(settings), make_app(settings)


def test_a_session_from_one_worker_is_valid_on_another(two_workers):
    """Without dashboard.secret_key, a login on one worker is accepted by the other."""
    first, second = two_workers
    browser = first.test_client()
    assert log_in(browser).status_code == 302
    other = second.test_client()
    carry_cookie(browser, other)
    assert logged_in(other)
    assert other.get("/api/reports/sources").status_code == 200
    with first.extensions["closedloop"].sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallationSecret)) == 1


def test_a_login_form_from_one_worker_posts_to_another(two_workers):
    """The CSRF token of a form served by one worker is accepted when another gets the post."""
    first, second = two_workers
    browser, other = first.test_client(), second.test_client()
    form = browser.get("/dashboard/").get_data(as_text=True)
    carry_cookie(browser, other)
    response = other.post(
        "/dashboard/login",
        data={"csrf": csrf_of(form), "username": USERNAME, "password": PASSWORD},
    )
    assert response.status_code == 302


def test_a_configured_secret_key_wins(make_settings, make_app, dashboard_config):
    """dashboard.secret_key signs the sessions; no installation key is made then."""
    settings = make_settings(dashboard_config)
    app = make_app(settings)
    browser = app.test_client()
    assert log_in(browser).status_code == 302
    serializer = app.session_interface.get_signing_serializer(app)
    assert app.secret_key == "s" * 32
    assert serializer.loads(browser.get_cookie(COOKIE).value)["user"] == USERNAME
    with app.extensions["closedloop"].sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallationSecret)) == 0


def test_requests_without_a_cookie_need_no_key(two_workers):
    """Health checks and tracking never create or read the installation key."""
    first, _ = two_workers
    assert first.test_client().get("/healthz").status_code == 200
    with first.extensions["closedloop"].sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallationSecret)) == 0


def set_cookie_header(response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert headers, "no session cookie set"
    return headers[-1]


def test_cookie_is_httponly_and_samesite_lax(report_app):
    """The session cookie is HttpOnly and SameSite=Lax; not Secure over plain HTTP."""
    cookie = set_cookie_header(log_in(report_app.test_client()))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_cookie_is_secure_over_https(report_app):
    """A request that came over HTTPS gets a Secure cookie."""
    client = report_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    form = client.get("https://localhost/dashboard/").get_data(as_text=True)
    response = client.post(
        "https://localhost/dashboard/login",
        data={"csrf": csrf_of(form), "username": USERNAME, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "Secure" in set_cookie_header(response)


def test_cookie_is_secure_with_an_https_public_url(make_settings, make_app, dashboard_config):
    """server.public_url https://... makes the cookie Secure even behind a plain-HTTP proxy."""
    config = {**dashboard_config}
    config["server"] = {**config["server"], "public_url": "https://attribution.example.com"}
    app = make_app(make_settings(config))
    assert "Secure" in set_cookie_header(log_in(app.test_client()))


@pytest.mark.parametrize("path", ["/dashboard/", "/api/reports/sources"])
def test_security_headers(report_app, path):
    """No framing, a script/style CSP, no referrer, no sniffing, no caching."""
    client = report_app.test_client()
    log_in(client)
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_logout_needs_the_csrf_token(report_app):
    """A cross-site POST to /dashboard/logout (no form token) is refused; the user stays in."""
    client = report_app.test_client()
    log_in(client)
    response = client.post("/dashboard/logout")
    assert response.status_code == 400 and response.json["detail"].startswith("csrf:")
    assert logged_in(client)
    assert client.get("/dashboard/logout").status_code == 405


def test_logout_ends_the_session_everywhere(two_workers):
    """After logout, a copy of the old cookie no longer works, on any worker."""
    first, second = two_workers
    browser = first.test_client()
    log_in(browser)
    stolen = first.test_client()
    carry_cookie(browser, stolen)
    assert logged_in(stolen)
    page = browser.get("/dashboard/").get_data(as_text=True)
    assert browser.post("/dashboard/logout", data={"csrf": csrf_of(page)}).status_code == 302
    elsewhere = second.test_client()
    for client in (stolen, elsewhere):
        if client is elsewhere:
            client.set_cookie(COOKIE, stolen.get_cookie(COOKIE).value)
        assert not logged_in(client)
        assert client.get("/api/reports/sources").status_code == 401


def wrong_password(client, username: str = USERNAME):
    return log_in(client, username, "guess")


def test_login_is_throttled_per_user_across_workers(two_workers):
    """Five wrong passwords for a user lock it on every worker and from every address."""
    first, second = two_workers
    for i in range(4):
        client = first.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i}"
        assert wrong_password(client).status_code == 401
    fifth = wrong_password(first.test_client())
    assert fifth.status_code == 429 and fifth.headers["Retry-After"] == "30"
    assert b"Too many failed log-ins: try again in 30 s." in fifth.data
    other = second.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    locked = log_in(other)  # even the right password, from a new address, on another worker
    assert locked.status_code == 429
    assert re.search(rb"try again in \d+ s", locked.data)
    assert not logged_in(other)
    assert log_in(other, "", DASHBOARD_TOKEN).status_code == 302  # another user name is free


def test_login_is_throttled_per_address(report_app):
    """Twenty failures from one address, whatever the user names, lock that address."""
    client = report_app.test_client()
    for i in range(19):
        assert wrong_password(client, f"user{i}").status_code == 401
    assert wrong_password(client, "user19").status_code == 429
    assert log_in(client).status_code == 429
    elsewhere = report_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert log_in(elsewhere).status_code == 302


def test_a_successful_login_clears_the_count(report_app):
    """Four typos, then the right password: the next typo starts counting from zero."""
    client = report_app.test_client()
    for _ in range(4):
        wrong_password(client)
    assert log_in(client).status_code == 302
    assert wrong_password(report_app.test_client()).status_code == 401
    with report_app.extensions["closedloop"].sessions() as db:
        failures = db.scalars(select(LoginThrottle.failures)).all()
    assert sorted(failures) == [1, 1]


def test_wrong_bearer_tokens_are_throttled(report_app):
    """Wrong API tokens from one address end in 429; then a right one waits; others are free."""
    client = report_app.test_client()
    wrong = {"Authorization": "Bearer nope"}
    right = {"Authorization": f"Bearer {DASHBOARD_TOKEN}"}
    for _ in range(19):
        assert client.get("/api/reports/sources", headers=wrong).status_code == 401
    limited = client.get("/api/reports/sources", headers=wrong)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    assert limited.json["error"] == "rate_limited"
    assert limited.json["detail"].startswith("Authorization: ")
    assert client.get("/api/reports/sources", headers=right).status_code == 429
    other = report_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.8"
    assert other.get("/api/reports/sources", headers=right).status_code == 200
    assert client.get("/api/reports/sources").status_code == 401  # no token: not counted


def test_locks_grow_and_expire(runtime):
    """Each failure past the limit doubles the lock (capped); failures far apart start over."""
    keys = [throttle.by_user("ana")]
    start = utcnow()
    waits = [
        throttle.record_failure(runtime.engine, keys, now=start + timedelta(seconds=i))
        for i in range(11)
    ]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    last = start + timedelta(seconds=10)
    assert throttle.wait_seconds(runtime.engine, keys, now=last) == 900
    assert throttle.wait_seconds(runtime.engine, keys, now=last + timedelta(seconds=901)) == 0
    later = last + throttle.WINDOW + timedelta(seconds=1)
    assert throttle.record_failure(runtime.engine, keys, now=later) == 0
    assert throttle.wait_seconds(runtime.engine, [throttle.by_user(" ANA ")], now=later) == 0


def test_user_names_are_not_stored(report_app):
    """The throttle keeps a hash of the typed user name, never the text (it may be a password)."""
    wrong_password(report_app.test_client(), "hunter2-typed-in-the-wrong-field")
    with report_app.extensions["closedloop"].sessions() as db:
        keys = db.scalars(select(LoginThrottle.key)).all()
    assert all("hunter2" not in key for key in keys)
    assert any(key.startswith("user:") and len(key) == 69 for key in keys)
