"""The only package that touches the article database."""
