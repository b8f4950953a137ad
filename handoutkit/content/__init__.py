"""The library and its topics: files on disk read into checked topics."""
