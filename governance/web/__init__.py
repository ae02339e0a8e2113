"""Web plumbing every app's API and portal share (ground floor).

Error bodies and handlers, parsers, field helpers, content negotiation and pagination for the API
(``governance.web.api``); the portal's access decorator, pagination and SVG charts (``governance.web.portal``).
It imports only the ground floor (``governance.access``, ``governance.trail``), never an app's views.
"""
