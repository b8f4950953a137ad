"""handouts: plain-language patient-education topics into branded, accessible PDFs.

The engine is a pipeline of small stages, each a module of its own:

    library  (topics, layouts, brands, fonts on disk)  -> library.py, topic.py, brand.py
    select   (SPECs -> topics and sections)             -> select.py
    assemble (Jinja2 layout -> HTML)                    -> assemble.py
    render   (WeasyPrint HTML -> PDF, sandboxed)        -> render.py, sandbox.py, workers.py
    packet   (cached parts merged with qpdf)            -> packet.py, cache.py
    deliver  (atomic files, stdout, CUPS)               -> deliver.py

build.py runs the stages for one document; batch.py for a manifest of patients.
Around them: lint.py, codes.py and scaffold.py for content owners; manifest.py, fhir.py
and inspection.py for health records.

The engine never prints and never exits; it raises HandoutsError subclasses.
"""

__version__ = "0.1.0"
