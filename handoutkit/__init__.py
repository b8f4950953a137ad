"""handouts: plain-language patient-education topics into branded, accessible PDFs.

The engine is a pipeline of stages, one folder each:

    content/   the library on disk: topics, brands, fonts, wording    (library.py, topic.py)
    document/  selected sections into one HTML document (Jinja2)       (assemble.py)
    pdf/       HTML -> checked, tagged PDF parts, cached and joined    (render.py, packet.py)
    lint/      checks of a library's topics, for content owners
    batch/     a job list of patients into personalised packets
    serve/     the same engine over HTTP: API, Infobutton, staff page
    content_ops/  Word files in, XLIFF to and from translators, review

At the top: request.py (one build request, whatever the door), build.py (runs the stages
for one document), deliver.py (atomic files, stdout, CUPS), cache.py, errors.py, and the
command line (cli.py, commands/).

The engine never prints and never exits; it raises HandoutsError subclasses.
"""

__version__ = "0.1.0"
