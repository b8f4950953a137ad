"""The staff page (filled in below)."""


def routes():
    return []
