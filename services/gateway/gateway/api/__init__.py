"""HTTP routes, one module per resource; each validates input, calls one service function, maps the result."""
