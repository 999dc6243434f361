"""The advisor console's wake-up panel (Web Push) and the installable app, in Chromium.

What Debian's headless Chromium does, and so what these tests can honestly show:

- The service worker registers, runs and shows notifications, and the DevTools protocol
  (``ServiceWorker.deliverPushMessage``) delivers a real ``push`` event to it.
- ``pushManager.subscribe`` fails at once with "AbortError: Registration failed - permission
  denied" in Playwright's (incognito) contexts, even with notifications granted: there is no
  push service here. (With a persistent profile it hangs instead, trying to reach Google's
  push service; the panel gives up after a timeout.) So the first test checks the panel's
  error state, and nothing reaches the server.
- For the rest of the round trip, one test stands in for the browser's push client only:
  an init script makes ``subscribe`` return a subscription to a push service run by the test
  (keys made here), so the real server stores it, sends a real encrypted test push to that
  service, the test decrypts it (RFC 8291) and hands it to the real service worker, which
  shows it.
- A tap on a notification cannot be made in a headless browser, and outside a real tap the
  browser refuses ``focus()`` and ``openWindow()``; the tests call the worker's click handler
  with the real notification and record which window it focuses or which URL it opens.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Worker, expect

from tests.e2e.browsing import log_in, screenshot

pytestmark = pytest.mark.browser

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
#: An advisor of the demo data whom the call tests do not use.
ADVISOR = "specialist.karen"
WAKE = {"type": "wake", "consultation_id": 4242, "tier": "gp",
        "title": "Rådgivningslinjen: et opkald venter",
        "body": "Du har vagt som læge. Åbn Rådgivningslinjen for at tage opkaldet."}  # fmt: skip


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Advisor:
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)
    csrf: str = ""

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.context.request.fetch(
            path, method=method, data=json.dumps(body) if body is not None else None,
            headers={"X-CSRF-Token": self.csrf, "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.ok, f"{method} {path}: {response.status} {response.text()}"
        return response.json()

    def panel(self) -> Any:
        return self.page.get_by_test_id("push-setup")

    def worker(self) -> Worker:
        """The console's service worker, once it runs."""
        deadline = time.monotonic() + 10
        while not [w for w in self.context.service_workers if w.url.endswith("/sw.js")]:
            assert time.monotonic() < deadline, "the service worker never started"
            self.page.wait_for_timeout(50)  # lets Playwright deliver its events
        return next(w for w in self.context.service_workers if w.url.endswith("/sw.js"))


@pytest.fixture
def open_console(browser: Browser, live_server: str) -> Iterator[Any]:
    """Open the console of ``ADVISOR`` in a fresh context (options: permissions, viewport,
    init script); the test fails if a page threw or the CSP refused anything."""
    made: list[Advisor] = []

    def open_(
        *, permissions: tuple[str, ...] = (), viewport: dict[str, int] = TABLET,
        init_script: str | None = None,
    ) -> Advisor:  # fmt: skip
        context = browser.new_context(base_url=live_server, viewport=viewport, locale="da-DK",
                                      timezone_id="Europe/Copenhagen")  # fmt: skip
        context.set_default_timeout(15_000)
        if permissions:
            context.grant_permissions(list(permissions))
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        advisor = Advisor(context, page)
        page.on("pageerror", lambda error: advisor.problems.append(f"script error: {error}"))
        page.on("console", lambda m: _note_refusal(m.type, m.text, advisor.problems))
        made.append(advisor)
        log_in(page, ADVISOR)
        advisor.csrf = context.request.get("/api/v1/auth/me").json()["csrf_token"]
        return advisor

    yield open_
    for advisor in made:
        advisor.context.close()
    assert not [p for a in made for p in a.problems], [p for a in made for p in a.problems]


def _note_refusal(kind: str, text: str, problems: list[str]) -> None:
    if kind == "error" and "Content Security Policy" in text:
        problems.append(f"CSP: {text}")


def deliver_push(advisor: Advisor, payload: dict[str, Any]) -> None:
    """A real push event for the worker, through the DevTools protocol (no push service)."""
    cdp: CDPSession = advisor.context.new_cdp_session(advisor.page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(event["registrations"]))  # fmt: skip
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not [r for r in registrations if not r["isDeleted"]]:
        assert time.monotonic() < deadline, "no service worker registration"
        advisor.page.wait_for_timeout(50)  # lets Playwright deliver the CDP events
    registration = next(r for r in registrations if not r["isDeleted"])
    assert registration["scopeURL"].endswith("/")
    origin = registration["scopeURL"].rstrip("/")
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": origin, "registrationId": registration["registrationId"],
        "data": json.dumps(payload, ensure_ascii=False),
    })  # fmt: skip
    cdp.detach()


def notifications(worker: Worker, tag: str | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = worker.evaluate(
        """async (tag) => (await self.registration.getNotifications(tag ? { tag } : {}))
             .map((n) => ({ title: n.title, body: n.body, tag: n.tag, lang: n.lang,
                            requireInteraction: n.requireInteraction, data: n.data }))""",
        tag,
    )
    return result


def shown_after_push(advisor: Advisor, payload: dict[str, Any], tag: str) -> dict[str, Any]:
    """Deliver a push and wait for its notification. DevTools' deliverPushMessage is fire and
    forget, and one was lost in a CI run (nothing shown in 10 s), so the push is delivered
    again every 3 s until the notification shows (a repeat replaces it: the same tag)."""
    worker = advisor.worker()
    deadline = time.monotonic() + 15
    again = 0.0
    while True:
        if time.monotonic() >= again:
            deliver_push(advisor, payload)
            again = time.monotonic() + 3
        if shown := notifications(worker, tag):
            break
        assert time.monotonic() < deadline, f"no notification tagged {tag}"
        advisor.page.wait_for_timeout(50)
    assert len(shown) == 1
    return shown[0]


#: Records the window the click handler focuses and the URL it opens (the browser refuses
#: both outside a real tap, which a headless browser cannot make).
SPY_ON_WINDOWS = """() => {
  self.focused = []; self.opened = [];
  if (self.spying) return;
  self.spying = true;
  const focus = WindowClient.prototype.focus;
  WindowClient.prototype.focus = function () { self.focused.push(this.url); return focus.call(this); };
  const open = self.clients.openWindow.bind(self.clients);
  self.clients.openWindow = (url) => { self.opened.push(url); return open(url); };
}"""

CLICK = """async (tag) => {
  const [notification] = await self.registration.getNotifications({ tag });
  const result = await self.handleNotificationClick(notification);
  return { ...result, focused: self.focused, opened: self.opened };
}"""


def enable_and_register(advisor: Advisor) -> None:
    panel = advisor.panel()
    expect(panel).to_have_attribute("data-state", "off")
    panel.get_by_role("button", name="Slå vækning til").click()
    script = advisor.page.evaluate(
        "navigator.serviceWorker.ready.then((r) => [r.active.scriptURL, r.scope])"
    )
    assert script[0].endswith("/sw.js")
    assert script[1].endswith("/"), "scope: the whole site"
    assert advisor.worker().url.endswith("/sw.js")


def test_enabling_registers_the_worker_and_says_clearly_that_push_is_unavailable(open_console):
    advisor = open_console(permissions=("notifications",))
    panel = advisor.panel()
    expect(panel).to_have_attribute("data-state", "off")
    expect(panel.get_by_test_id("push-status")).to_have_text(
        "Vækning er ikke slået til på denne enhed."
    )
    expect(panel.get_by_role("button", name="Slå vækning til")).to_be_visible()
    screenshot(advisor.page, "push-setup-off")

    enable_and_register(advisor)

    expect(panel).to_have_attribute("data-state", "error")
    expect(panel).to_have_attribute("data-error", "push_service")
    expect(panel.get_by_test_id("push-status")).to_have_text("Vækning kunne ikke slås til.")
    expect(panel.get_by_test_id("push-help")).to_contain_text("private vinduer")
    expect(panel.get_by_test_id("push-note")).to_contain_text("AbortError")
    expect(panel.get_by_role("button", name="Prøv igen")).to_be_visible()
    panel.scroll_into_view_if_needed()
    screenshot(advisor.page, "push-setup-error")
    # Nothing reached the server: it has no device of this advisor's to send to.
    assert advisor.api("POST", "/api/v1/push/test") == {"delivered": 0, "removed": 0, "failed": 0}


def test_a_wake_push_shows_a_notification_and_a_tap_brings_the_console(open_console):
    advisor = open_console(permissions=("notifications",))
    enable_and_register(advisor)
    worker = advisor.worker()

    shown = shown_after_push(advisor, WAKE, "consultation-4242")
    assert shown["title"] == WAKE["title"]
    assert shown["body"] == WAKE["body"]
    assert shown["requireInteraction"] is True
    assert shown["lang"] == "da"
    assert shown["data"] == {"url": "/", "type": "wake", "consultation_id": 4242}

    # The same call again replaces the notification rather than adding one.
    deliver_push(advisor, WAKE)
    advisor.page.wait_for_timeout(300)
    assert len(notifications(worker, "consultation-4242")) == 1

    # A tap with the console open: that window is focused, nothing new is opened.
    worker.evaluate(SPY_ON_WINDOWS)
    result = worker.evaluate(CLICK, "consultation-4242")
    console_url = advisor.page.url
    assert result["action"] == "focused"
    assert result["focused"] == [console_url]
    assert result["opened"] == []
    assert notifications(worker, "consultation-4242") == [], "the tapped notification closes"

    # With the console closed (the tab shows another page): the console is opened.
    advisor.page.goto("/fees")
    shown_after_push(advisor, WAKE, "consultation-4242")
    worker.evaluate(SPY_ON_WINDOWS)
    result = worker.evaluate(CLICK, "consultation-4242")
    assert result["focused"] == []
    assert result["opened"] == [console_url]
    assert result["action"] in {"opened", "refused"}  # refused: no real tap in headless


@pytest.mark.parametrize(
    ("payload", "tag", "title", "lang"),
    [
        ({"type": "test"}, "push-test", "Rådgivningslinjen: test", "da"),
        ({"type": "wake", "consultation_id": 7, "lang": "en"}, "consultation-7",
         "The advice line: a call is waiting", "en"),
        ({}, "push-wake", "Rådgivningslinjen: et opkald venter", "da"),
    ],
)  # fmt: skip
def test_pushes_without_words_get_the_workers_own(open_console, payload, tag, title, lang):
    advisor = open_console(permissions=("notifications",))
    enable_and_register(advisor)

    shown = shown_after_push(advisor, payload, tag)
    assert (shown["title"], shown["lang"]) == (title, lang)
    assert shown["data"]["url"] == "/"


def test_a_link_in_a_push_stays_on_this_site(open_console):
    advisor = open_console(permissions=("notifications",))
    enable_and_register(advisor)

    phish = {**WAKE, "url": "//evil.example/phish"}
    assert shown_after_push(advisor, phish, "consultation-4242")["data"]["url"] == "/"


def test_blocked_notifications_show_how_to_allow_them(open_console):
    advisor = open_console(viewport=PHONE)  # no permission: headless answers "denied"
    panel = advisor.panel()
    expect(panel).to_have_attribute("data-state", "off")

    panel.get_by_role("button", name="Slå vækning til").click()

    expect(panel).to_have_attribute("data-state", "denied")
    expect(panel.get_by_test_id("push-status")).to_have_text(
        "Notifikationer er blokeret for Rådgivningslinjen i denne browser, så vi kan ikke vække dig."
    )
    expect(panel.get_by_test_id("push-help")).to_contain_text("Webstedsindstillinger")
    expect(panel.get_by_role("button", name="Genindlæs siden")).to_be_visible()
    panel.scroll_into_view_if_needed()
    screenshot(advisor.page, "push-setup-denied-phone")


def test_a_browser_without_service_workers_is_told_what_to_do(open_console):
    advisor = open_console(viewport=PHONE, init_script="delete Navigator.prototype.serviceWorker;")
    panel = advisor.panel()

    expect(panel).to_have_attribute("data-state", "unsupported")
    expect(panel.get_by_test_id("push-help")).to_contain_text("Føj til hjemmeskærm")
    expect(panel.get_by_role("button")).to_have_count(0)
    panel.scroll_into_view_if_needed()
    screenshot(advisor.page, "push-setup-unsupported-phone")


def test_the_install_offer_appears_when_the_browser_makes_one(open_console):
    advisor = open_console()
    install = advisor.page.get_by_test_id("push-install")
    expect(install).to_be_hidden()
    # The console's script has run (the panel has checked this browser; it starts listening
    # for the offer in the same task that starts the check): an offer made before would go
    # unheard, by the test as by the page.
    expect(advisor.panel()).not_to_have_attribute("data-state", "checking")

    # What Chromium fires when the app may be installed (not in a headless browser by itself).
    advisor.page.evaluate("""() => {
      const offer = new Event("beforeinstallprompt", { cancelable: true });
      offer.prompt = () => { window.prompted = true; return Promise.resolve(); };
      offer.userChoice = Promise.resolve({ outcome: "accepted", platform: "web" });
      window.dispatchEvent(offer);
      window.offerDefaultPrevented = offer.defaultPrevented;
    }""")

    expect(install).to_be_visible()
    assert advisor.page.evaluate("window.offerDefaultPrevented") is True
    install.get_by_role("button", name="Installér som app").click()
    expect(advisor.page.get_by_test_id("install-state")).to_have_text(
        "Rådgivningslinjen er installeret som app på denne enhed."
    )
    assert advisor.page.evaluate("window.prompted") is True
    expect(install.get_by_role("button")).to_be_hidden()


# The round trip with a stand-in for the browser's push client -------------------------------


@dataclass
class LocalPushService:
    """A push service on 127.0.0.1 (the server accepts http there in the test environment)."""

    port: int
    received: list[bytes] = field(default_factory=list)

    def endpoint(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{token}"

    def wait_for(self, count: int, page: Page) -> list[bytes]:
        deadline = time.monotonic() + 10
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} pushes, not {count}"
            page.wait_for_timeout(50)
        return self.received


@pytest.fixture
def push_service() -> Iterator[LocalPushService]:
    received: list[bytes] = []

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the http.server interface names it so
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LocalPushService(server.server_address[1], received)
    server.shutdown()
    server.server_close()
    thread.join()


#: Makes PushManager.subscribe return a subscription to the test's push service.
FAKE_PUSH_CLIENT = """(() => {
  const fake = %s;
  let current = null;
  const make = (key) => ({
    endpoint: fake.endpoint, expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: key },
    toJSON() { return { endpoint: fake.endpoint, expirationTime: null, keys: { p256dh: fake.p256dh, auth: fake.auth } }; },
    async unsubscribe() { current = null; window.unsubscribed = true; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    current = make(new Uint8Array(options.applicationServerKey).buffer);
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();"""


def test_enable_send_a_test_message_and_turn_off(open_console, push_service):
    key = ec.generate_private_key(ec.SECP256R1())
    auth = b"0123456789abcdef"
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    fake = {"endpoint": push_service.endpoint(b64url(auth)), "p256dh": b64url(public),
            "auth": b64url(auth)}  # fmt: skip
    advisor = open_console(
        permissions=("notifications",), init_script=FAKE_PUSH_CLIENT % json.dumps(fake)
    )
    panel = advisor.panel()

    enable_and_register(advisor)

    expect(panel).to_have_attribute("data-state", "on")
    expect(panel.get_by_test_id("push-status")).to_have_text("Vækning er slået til på denne enhed.")
    panel.scroll_into_view_if_needed()
    screenshot(advisor.page, "push-setup-on")
    try:
        panel.get_by_role("button", name="Send testbesked").click()
        expect(panel.get_by_test_id("push-note")).to_contain_text("sendt til 1 af dine enheder")
        body = push_service.wait_for(1, advisor.page)[0]
        payload = json.loads(
            http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
        )
        assert payload["type"] == "test"

        # What the browser would do with it:
        shown = shown_after_push(advisor, payload, "push-test")
        assert shown["title"] == "Rådgivningslinjen: test"
        assert shown["body"] == "Notifikationer virker på denne enhed."

        panel.get_by_role("button", name="Slå fra").click()
        expect(panel).to_have_attribute("data-state", "off")
        expect(panel.get_by_test_id("push-note")).to_have_text(
            "Vækning er slået fra på denne enhed."
        )
        assert advisor.page.evaluate("window.unsubscribed") is True
    finally:
        advisor.context.request.fetch(
            "/api/v1/push/subscriptions", method="DELETE", data=json.dumps({"endpoint": fake["endpoint"]}),
            headers={"X-CSRF-Token": advisor.csrf, "Content-Type": "application/json"},
        )  # fmt: skip
    assert advisor.api("POST", "/api/v1/push/test") == {"delivered": 0, "removed": 0, "failed": 0}


def test_a_renewed_subscription_is_told_to_the_server(open_console, push_service):
    # Chromium never fires pushsubscriptionchange; Firefox does, with the new subscription.
    key = ec.generate_private_key(ec.SECP256R1())
    auth = b"fedcba9876543210"
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    renewed = {"endpoint": push_service.endpoint("renewed"), "expirationTime": None,
               "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}  # fmt: skip
    advisor = open_console(permissions=("notifications",))
    enable_and_register(advisor)
    try:
        endpoint = advisor.worker().evaluate(
            "(s) => self.resubscribe(null, { endpoint: s.endpoint, toJSON: () => s })", renewed
        )

        assert endpoint == renewed["endpoint"]
        assert advisor.api("POST", "/api/v1/push/test")["delivered"] == 1
        assert len(push_service.wait_for(1, advisor.page)) == 1
    finally:
        advisor.api("DELETE", "/api/v1/push/subscriptions", {"endpoint": renewed["endpoint"]})
