"""Server-rendered pages: login, the role's landing page, patients, calls for advice, duty
rotas, administration, errors.

Pages are thin: the layout, navigation by role and translated text come from here, the
data and actions from the REST API through small ES modules in ``web/static``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from advice_line import fee_store, patients
from advice_line import organisations as org_store
from advice_line.appkeys import CATALOGUE, DB, SESSION, SETTINGS
from advice_line.episodes import reading as episode_reading
from advice_line.episodes import store as episode_store
from advice_line.fees import bands as fee_bands
from advice_line.http import current_session
from advice_line.i18n import LANGUAGE_COOKIE, LANGUAGES, request_language
from advice_line.problems import Problem, bad_request
from advice_line.roles import ORGANISATION_KINDS, PATIENT_MANAGERS, ROLES, TIER_NAMES, Role
from advice_line.views import consultations_api, fees_api

routes = web.RouteTableDef()

#: Who sees and edits the duty rotas and their coverage.
ROTA_EDITORS = (Role.COORDINATOR, Role.ADMIN)
_ROTA_NAVIGATION = [("nav.rota", "/rota"), ("nav.coverage", "/rota/coverage")]

#: Navigation per role: (translation key, path).
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    Role.NURSE: [("nav.home", "/"), ("nav.call", "/call/new"), ("nav.patients", "/patients")],
    Role.ADVISOR: [("nav.home", "/"), ("nav.fees", "/fees")],
    Role.COORDINATOR: [("nav.home", "/"), ("nav.board", "/board"), *_ROTA_NAVIGATION,
                        ("nav.patients", "/patients"), ("nav.episodes", "/episodes"),
                        ("nav.reports", "/reports"), ("nav.fees", "/fees")],
    Role.ADMIN: [("nav.home", "/"), ("nav.board", "/board"), *_ROTA_NAVIGATION,
                 ("nav.users", "/admin/users"), ("nav.organisations", "/admin/organisations"),
                 ("nav.audit", "/admin/audit"), ("nav.reports", "/reports"), ("nav.fees", "/fees")],
}  # fmt: skip


def context(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What every template gets: the translator, the language, the user and the navigation."""
    catalogue = request.app[CATALOGUE]
    language = request_language(request, request.app[SETTINGS].default_language)
    session = request.get(SESSION)
    user = session.user if session else None

    def t(key: str, **values: object) -> str:
        return catalogue.translate(language, key, **values)

    navigation = NAVIGATION.get(user.role, []) if user else []
    return {
        "t": t, "lang": language, "languages": LANGUAGES, "user": user,
        "csrf_token": session.csrf_token if session else "",
        "navigation": navigation, "current_nav": current_entry(navigation, request.path),
        "path": request.path, "messages": catalogue.for_language(language), **extra,
    }  # fmt: skip


def current_entry(navigation: list[tuple[str, str]], path: str) -> str | None:
    """The one menu entry the page belongs to: the longest path that is the page or above it."""
    matches = [
        href
        for _, href in navigation
        if path == href or (href != "/" and path.startswith(href + "/"))
    ]
    return max(matches, key=len, default=None)


def render(request: web.Request, template: str, status: int = 200, **extra: Any) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, context(request, **extra), status=status
    )


def _login_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound("/login?next=" + request.path_qs if request.path != "/" else "/login")


def page_user(request: web.Request, *roles: str) -> Any:
    """The signed-in user for a page, redirecting to login (or to TOTP enrolment) as needed."""
    session = request.get(SESSION)
    if session is None:
        raise _login_redirect(request)
    if session.user.must_enrol_totp and request.path != "/account":
        raise web.HTTPFound("/account")
    if roles and session.user.role not in roles:
        raise Problem(403, "forbidden", "Forbidden", "your role may not see this page")
    return current_session(request, allow_pending_totp=True).user


def safe_next(raw: str | None) -> str:
    """Only local paths, so a crafted link cannot send someone to another site after login."""
    if (
        not raw
        or not raw.startswith("/")
        or raw.startswith("//")
        or urlsplit(raw).netloc
        or "\\" in raw
    ):
        return "/"
    return raw


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(SESSION) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return render(request, "login.html", next=safe_next(request.query.get("next")))


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    user = page_user(request)
    return render(request, f"home_{user.role}.html", tiers=TIER_NAMES)


@routes.get("/account")
async def account(request: web.Request) -> web.StreamResponse:
    page_user(request)
    return render(request, "account.html")


@routes.get("/patients")
async def patient_list(request: web.Request) -> web.StreamResponse:
    page_user(request, *PATIENT_MANAGERS)
    return render(request, "patients.html")


@routes.get("/patients/new")
async def patient_new(request: web.Request) -> web.StreamResponse:
    page_user(request, *PATIENT_MANAGERS)
    return render(request, "patient.html", patient_id=None, **_patient_choices())


@routes.get("/patients/{patient_id:[0-9]{1,18}}")
async def patient_page(request: web.Request) -> web.StreamResponse:
    """The shell only: the patient is read (and the read audited) through the API."""
    page_user(request, *PATIENT_MANAGERS)
    patient_id = int(request.match_info["patient_id"])
    return render(request, "patient.html", patient_id=patient_id, **_patient_choices())


def _patient_choices() -> dict[str, Any]:
    """The form's choices as (value, translation key) pairs, straight from the schema."""
    schema = patients.SCHEMA
    return {
        "diagnosis_groups": [
            (v, f"patients.diagnosis.{v}") for v in schema["diagnosis_group"].choices
        ],
        "treatment_levels": [
            (v, f"patients.treatment.{v}") for v in schema["treatment_level"].choices
        ],
        "places_of_death": [(v, f"patients.place.{v}") for v in patients.PLACES_OF_DEATH],
    }


@routes.get("/call/new")
async def call_new(request: web.Request) -> web.StreamResponse:
    """The nurse's request for advice (ISBAR), for ``?patient=<id>``; without it, find the
    patient first."""
    page_user(request, Role.NURSE)
    raw = request.query.get("patient", "")
    patient_id = int(raw) if re.fullmatch("[0-9]{1,18}", raw) else None
    schema = consultations_api.REQUEST_SCHEMA
    return render(
        request, "call_new.html", patient_id=patient_id,
        urgencies=[(v, f"call.urgency.{v}") for v in schema["urgency"].choices],
        channels=[(v, f"call.channel.{v}") for v in schema["channel"].choices],
    )  # fmt: skip


@routes.get("/call/{consultation_id:[0-9]{1,18}}")
async def call_page(request: web.Request) -> web.StreamResponse:
    """One call, as the nurse who asked or an advisor sees it; the shell only: the
    consultation is read (and the care plan's read audited) through the API."""
    page_user(request, Role.NURSE, Role.ADVISOR)
    consultation_id = int(request.match_info["consultation_id"])
    return render(request, "call.html", consultation_id=consultation_id)


@routes.get("/episodes")
async def episode_list(request: web.Request) -> web.StreamResponse:
    """The organisation's episodes with filters (coordinators); the list comes from the API."""
    page_user(request, Role.COORDINATOR, Role.ADMIN)
    return render(
        request, "episodes.html",
        outcomes=[(v, f"episodes.outcome.{v}") for v in episode_reading.OUTCOMES],
        dispositions=[(v, f"episodes.disposition.{v}") for v in episode_store.DISPOSITIONS],
    )  # fmt: skip


@routes.get("/episodes/{consultation_id:[0-9]{1,18}}")
async def episode_page(request: web.Request) -> web.StreamResponse:
    """One episode, with the documentation form first for an advisor who took part; the
    shell only: the episode is read (and the read audited) through the API."""
    page_user(request)
    consultation_id = int(request.match_info["consultation_id"])
    return render(
        request, "episode.html", consultation_id=consultation_id,
        dispositions=[(v, f"episodes.disposition.{v}") for v in episode_store.DISPOSITIONS],
    )  # fmt: skip


@routes.get("/precall")
async def precall_page(request: web.Request) -> web.StreamResponse:
    """The pre-call test: camera, microphone and network, against the server's echo peer."""
    page_user(request)
    return render(request, "precall.html")


@routes.get("/rota")
async def rota_page(request: web.Request) -> web.StreamResponse:
    """A tier's final schedule by week or month; the tier, view and date live in the query."""
    page_user(request, *ROTA_EDITORS)
    return render(request, "rota.html", tiers=TIER_NAMES)


@routes.get("/rota/coverage")
async def rota_coverage(request: web.Request) -> web.StreamResponse:
    """Every coverage gap of every tier in the next 14 days."""
    page_user(request, *ROTA_EDITORS)
    return render(request, "rota_coverage.html", tiers=TIER_NAMES)


@routes.get("/board")
async def board_page(request: web.Request) -> web.StreamResponse:
    """The live board of the whole line (coordinators, admins; large enough for a wall
    screen); the shell only: the snapshot comes from the board API every few seconds."""
    page_user(request, Role.COORDINATOR, Role.ADMIN)
    return render(request, "board.html", tiers=TIER_NAMES)


@routes.get("/reports")
async def reports_page(request: web.Request) -> web.StreamResponse:
    """Evaluation: filters, tables, charts and CSV links; the data come from the reports API.
    Admins choose an organisation (or all); a coordinator sees their own."""
    user = page_user(request, Role.COORDINATOR, Role.ADMIN)
    organisations: list[dict[str, Any]] = []
    if user.role == Role.ADMIN:
        async with request.app[DB].acquire() as conn:
            organisations = await org_store.list_all(conn)
    return render(request, "reports.html", tiers=TIER_NAMES, organisations=organisations)


@routes.get("/fees")
async def fees_page(request: web.Request) -> web.StreamResponse:
    """Fee statements by month (an advisor sees their own) and, for admins, the fee schedules
    with the upload form; the data come from the fees API."""
    user = page_user(request, Role.ADVISOR, *fees_api.FEE_READERS)
    return render(request, "fees.html", is_admin=user.role == Role.ADMIN,
                  can_choose=user.role in fees_api.FEE_READERS)  # fmt: skip


@routes.get("/fees/print")
async def fees_print(request: web.Request) -> web.StreamResponse:
    """A month's statement as a printable document (same scope rules as the API)."""
    user = page_user(request, Role.ADVISOR, *fees_api.FEE_READERS)
    month = fees_api.month_param(request)
    async with request.app[DB].acquire() as conn:
        scope = await fees_api.resolve_scope(conn, user, request)
        statement, names = await fee_store.statement(conn, month, scope)
    language = request_language(request, request.app[SETTINGS].default_language)
    return render(request, "fees_print.html", statement=statement, names=names,
                  money=lambda amount: format_amount(amount, language),
                  local=fee_bands.local)  # fmt: skip


def format_amount(amount: Any, language: str) -> str:
    """An amount as people read it: 1.234,50 in Danish, 1,234.50 in English."""
    text = f"{amount:,.2f}"
    return text.translate(str.maketrans(",.", ".,")) if language == "da" else text


@routes.get("/admin/users")
async def admin_users(request: web.Request) -> web.StreamResponse:
    me = page_user(request, Role.ADMIN)
    return render(request, "admin_users.html", me_id=me.id, roles=ROLES, tiers=TIER_NAMES)


@routes.get("/admin/organisations")
async def admin_organisations(request: web.Request) -> web.StreamResponse:
    page_user(request, Role.ADMIN)
    return render(request, "admin_organisations.html", kinds=ORGANISATION_KINDS)


@routes.get("/admin/audit")
async def admin_audit(request: web.Request) -> web.StreamResponse:
    page_user(request, Role.ADMIN)
    raw = request.query.get("patient_id", "")
    valid = re.fullmatch("[0-9]{1,18}", raw) is not None
    return render(request, "admin_audit.html", patient_id=raw if valid else "")


@routes.get("/language/{code}")
async def set_language(request: web.Request) -> web.StreamResponse:
    """Switch the display language (a preference cookie), then go back where one was."""
    code = request.match_info["code"]
    if code not in LANGUAGES:
        raise bad_request("unknown language")
    response = web.HTTPFound(safe_next(request.query.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", path="/",
                        secure=request.app[SETTINGS].cookie_secure)  # fmt: skip
    raise response


async def error_page(request: web.Request, problem: Problem) -> web.StreamResponse:
    return render(request, "error.html", status=problem.status, problem=problem)
