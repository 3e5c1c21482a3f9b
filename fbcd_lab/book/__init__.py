"""The kit as a browsable book (``python -m fbcd_lab book DIR``): the notebooks with their stored
outputs, the guides, a page per committed study, and the command-line and API reference, as a static
site that needs no network. :func:`~fbcd_lab.book.site.build_book` builds it."""
