"""The staff page: a front desk picks topics and sections, language, layout, paper and the
patient's details, then previews the HTML, downloads the PDF or opens it to print.

Server-rendered with Jinja2 (autoescaped) and a few lines of plain JavaScript that filter
the list as one types; everything works without it. Staff sign in once with an API key and
get a signed, HTTP-only, SameSite=Strict, Secure session cookie holding a random id of a
session kept by the service (access.Sessions): signing out ends it on the server, and
removing the key from the file ends every session signed in with it. Failed sign-ins count
against the client address. Every form carries a CSRF token kept in the session, and POSTs
from another origin are refused. The document form is read by the one request parser.
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import HandoutsError
from ..request import PERSONAL_FIELDS
from .access import key_id
from .api import document_job, document_response
from .service import ApiError

HERE = Path(__file__).resolve().parent
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")
CODE_LIKE = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z.]*$")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined)


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _check_form(request: Request, form) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc
        public = request.app.state.service.settings.public_url
        if host != (urlsplit(public).netloc if public else request.headers.get("host")):
            raise ApiError(403, "forbidden", "a form from another site was refused")
    token = form.get("csrf", "")
    expected = request.session.get("csrf", "")
    # Compared as bytes: compare_digest refuses text that is not ASCII (a 500, not a 403).
    if not expected or not hmac.compare_digest(str(token).encode("utf-8", "surrogatepass"),
                                                expected.encode()):
        raise ApiError(403, "forbidden", "the form has expired or did not come from this "
                       "page; reload the page and try again")


def _page(request: Request, template: str, status: int = 200, headers: dict | None = None,
          **context) -> HTMLResponse:
    html = _env.get_template(template).render(csrf=_csrf(request), **context)
    return HTMLResponse(html, status_code=status,
                        headers={**(headers or {}), "Content-Security-Policy": PAGE_CSP,
                                 "Cache-Control": "no-store"})


def _matches(library, query: str) -> list[str] | None:
    """Topic ids that fit the query as a code, then by the words patients use (titles,
    keywords, summaries, headings and text: search.py), best first; None when there is
    no query."""
    query = query.strip()
    if not query:
        return None
    found: list[str] = []
    if CODE_LIKE.match(query):
        from ..content.codes import CodeError, find

        try:
            found = [m.topic_id for m in find(library, [query])[query]]
        except CodeError:
            pass
    from ..content.search import search

    found += [hit.topic_id for hit in search(library, query, limit=50)
              if hit.topic_id not in found]
    return found


def _topics(library, shown: list[str] | None, form=None) -> list[dict]:
    rows = []
    for topic_id in (shown if shown is not None else library.topic_ids):
        topic = library.topic(topic_id, library.languages(topic_id)[0])
        picked = form is not None and topic_id in form.getlist("topic")
        chosen = set(form.getlist(f"section-{topic_id}")) if picked else None
        rows.append({
            "id": topic.id, "title": topic.title, "codes": list(topic.codes),
            "languages": library.languages(topic_id), "picked": picked,
            "sections": [{"id": s.id, "title": s.title, "required": s.required,
                          "checked": s.required or chosen is None or s.id in chosen}
                         for s in topic.sections],
        })
    return rows


def _context(service, library, form=None, query: str = "", error: str | None = None) -> dict:
    values = {name: (form.get(name) or "") if form is not None else ""
              for name in (*PERSONAL_FIELDS, "lang", "layout", "paper", "fallback", "bilingual")}
    shown = _matches(library, query)
    return {
        "signed_in": True, "needs_key": not service.open, "query": query,
        "topics": _topics(library, shown, form), "error": error, "values": values,
        "languages": _languages(library),
        "layouts": library.layout_names, "papers": ["letter", "a4"],
        "limits": {"field": service.settings.max_field, "note": service.settings.max_note},
    }


def _languages(library) -> list[dict]:
    """Every language of the library, English first (the default), each named in English
    and in itself: 'Spanish (español)'."""
    from ..content.library import DEFAULT_LANG
    from ..content.wording import language_name

    langs = sorted({f.lang for f in library.files()}, key=lambda lang: (lang != DEFAULT_LANG, lang))
    named = []
    for lang in langs:
        english, own = language_name(lang, "en"), language_name(lang, lang)
        named.append({"code": lang,
                      "name": english if own == english else f"{english} ({own})"})
    return named


async def home(request: Request) -> Response:
    service = request.app.state.service
    if not service.authorized(request):
        return _page(request, "signin.html.j2", error=None)
    library = service.usable_library()
    return _page(request, "staff.html.j2",
                 **_context(service, library, query=request.query_params.get("q", "")))


async def find_topics(request: Request) -> Response:
    """The ids of the topics that fit `q`, best first, for the page's search as one types:
    the same matching as the search form (codes, then the words patients use)."""
    service = request.app.state.service
    if not service.authorized(request):
        return JSONResponse({"error": "unauthorized", "detail": "sign in first"}, 401)
    query = request.query_params.get("q", "")[:200]
    found = _matches(service.usable_library(), query)
    return JSONResponse({"ids": found}, headers={"Cache-Control": "no-store"})


async def sign_in(request: Request) -> Response:
    """A key for a session kept on the server (the cookie holds only its random id).
    Failed sign-ins count against the client address (429 after too many)."""
    service = request.app.state.service
    service.check_attempts(request)
    form = await request.form(max_files=0, max_fields=10)
    _check_form(request, form)
    key = service.keyring.match(str(form.get("key", "")).strip())
    if key is None:
        service.limiter.failed(service.client_address(request))
        return _page(request, "signin.html.j2", status=401,
                     error="That key is not right. Check it and try again.")
    service.sessions.close(request.session.get("sid"))
    request.session.clear()
    request.session["sid"] = service.sessions.open(key_id(key))
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse("/", status_code=303)


async def sign_out(request: Request) -> Response:
    """Ends the session on the server: its cookie, kept or copied, opens nothing."""
    form = await request.form(max_files=0, max_fields=10)
    _check_form(request, form)
    request.app.state.service.sessions.close(request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/", status_code=303)


def _specs(library, form) -> list[str]:
    specs = []
    for topic_id in form.getlist("topic"):
        if not library.has(topic_id):
            library.topic(topic_id)  # raises: unknown topic
        topic = library.topic(topic_id, library.languages(topic_id)[0])
        optional = [s.id for s in topic.sections if not s.required]
        chosen = [s for s in form.getlist(f"section-{topic_id}") if s in optional]
        if len(chosen) == len(optional):
            specs.append(topic_id)
        elif chosen:
            specs.append(f"{topic_id}:{','.join(chosen)}")
        else:
            raise HandoutsError(f"pick at least one section of '{topic.title}'")
    if not specs:
        raise HandoutsError("pick at least one topic")
    return specs


# What to do next, in words, for each error the engine or the service can answer. The API
# keeps its JSON; the page never shows it.
NEXT_STEP = {
    "busy": "The service is busy making other handouts. Wait a few seconds and try again.",
    "starting": "The service is still starting. Wait a few seconds and try again.",
    "stopping": "The service is restarting. Wait a few seconds and try again.",
    "worker_failed": "The parts already made are kept, so trying again is faster. If it "
                     "happens again, pick fewer topics or ask IT to raise the service's "
                     "--timeout.",
    "render_failed": "Nothing was printed, because the handout could not be made right. "
                     "Tell IT the reference at the end of this message.",
}


def explain(error: str, detail: str) -> str:
    """One readable paragraph for the page: what happened and what to do next."""
    took = re.search(r"took longer than [0-9.]+ s", detail)
    if error == "worker_failed" and took:
        detail = f"Making this handout {took.group(0)}, so it was stopped"
    elif error == "worker_failed":
        detail = "The program making this handout stopped"
    detail = (detail[:1].upper() + detail[1:]).rstrip(".") + "." if detail else \
        "Something went wrong."
    if error in NEXT_STEP:
        return f"{detail} {NEXT_STEP[error]}"
    if re.search(r"has no '[^']+' version", detail):
        return f"{detail} Tick \"English where missing\", or pick another language."
    return detail  # the engine's message says what to change


def _body(library, form, action: str) -> dict:
    """The staff form as the one request parser's input (a document request)."""
    body = {"specs": _specs(library, form),
            "format": "html" if action == "preview" else "pdf",
            "personal": {name: value for name in PERSONAL_FIELDS
                         if (value := str(form.get(name) or "").strip())}}
    for name in ("lang", "layout", "paper", "bilingual"):
        if form.get(name):
            body[name] = str(form.get(name))
    if form.get("fallback"):
        body["fallback"] = "en"  # "English where missing", on by default
    return body


async def make_document(request: Request) -> Response:
    """Preview, download or print. The page's script sends the form with fetch (it shows
    progress and a Cancel, retries once when busy, then clears the patient's details);
    it asks for errors as JSON with `X-Handouts-Page: fetch`. Without the script the
    form posts as usual and an error comes back as the page, with the form as it was."""
    service = request.app.state.service
    form = await request.form(max_files=0, max_fields=500)
    _check_form(request, form)
    if not service.authorized(request, form_checked=True):
        return RedirectResponse("/", status_code=303)
    library = service.library()
    action = form.get("action", "download")
    try:
        job, _ = document_job(_body(library, form, str(action)), service.settings)
        reply = await service.render(job)
    except (HandoutsError, ApiError) as exc:
        if isinstance(exc, ApiError):
            status, error, detail = exc.status, exc.error, exc.detail
            headers = exc.headers or {}
        else:
            status, error, detail, headers = 422, "bad_input", str(exc), {}
        message = explain(error, detail)
        if status >= 500 and error not in NEXT_STEP:
            raise
        if status == 500:
            message += f" Reference: {request.state.request_id}."
        if request.headers.get("x-handouts-page") == "fetch":
            return JSONResponse({"error": error, "message": message}, status_code=status,
                                headers={**headers, "Cache-Control": "no-store"})
        return _page(request, "staff.html.j2", status=status, headers=headers,
                     **_context(service, service.usable_library(), form, error=message))
    disposition = "attachment" if action == "download" else "inline"
    return document_response(reply, job["format"], None, disposition)


def routes() -> list:
    return [
        Route("/", home),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", sign_out, methods=["POST"]),
        Route("/staff/document", make_document, methods=["POST"]),
        Route("/staff/find", find_topics),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
