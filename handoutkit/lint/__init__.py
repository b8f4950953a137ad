"""`handouts lint`: checks of a library's topics, importing content only."""
