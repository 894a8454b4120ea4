"""``python -m harness report html``: a self-contained HTML report with paper-ready
figures. ``source`` reads the input, ``data`` computes each figure's numbers (pure
functions), ``figures`` draws them with matplotlib, ``html`` assembles the page."""
