"""`handouts serve`: the engine behind an HTTP service (JSON API, HL7 Infobutton, FHIR, a
staff page), rendering on warm worker processes with the same code as `build` and `batch`.

    app.py        the Starlette application (create_app) and the server (run)
    service.py    settings, the Service the routes share, the API's errors
    middleware.py body limits (Guard), request ids, access log, headers, error answers
    access.py     keys re-read on change or SIGHUP, server-side sessions, attempt limits
    slow.py       uvicorn's h11 protocol with a deadline for request headers
    api.py        the JSON API routes (requests read by handoutkit.request)
    openapi.py    the OpenAPI document and its route, its request schema from handoutkit.request
    pool.py       warm worker processes, a bounded queue, timeouts, replacement
    jobs.py       what a worker runs: `handoutkit.build.make`, as `build` does
    infobutton.py HL7 Infobutton answers shaped as MedlinePlus Connect's (JSON, Atom), its route
    staff.py      the staff page (server-rendered Jinja2)
    etag.py, links.py, metrics.py: ETags, signed links, Prometheus metrics

Imports go one way: app -> staff, infobutton, openapi -> api -> service; nothing imports
app; views reach the Service as `request.app.state.service`.
"""
