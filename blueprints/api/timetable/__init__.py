"""The timetable over JSON: rooms, subjects, course groups, weekly series, sessions, per-date
exceptions and generation.

Reads follow the pages' row-level rules: staff see everything, a mentor the groups they teach
(and their series and sessions), a student the groups they are enrolled in; anything else is
404. Writes are for staff (403 for other roles). Each write calls one service and commits once.
"""

from __future__ import annotations

from importlib import import_module

from blueprints.api.common import ApiBlueprint

blp = ApiBlueprint(
    "api_timetable",
    __name__,
    description="Rooms, subjects, course groups, weekly series, sessions, exceptions",
)

# Each module adds its routes to `blp` when imported, in this order: the order of the OpenAPI
# document's paths.
ROUTE_MODULES = (
    "catalogue", "groups", "series", "sessions", "exceptions", "years", "closures", "generation",
)  # fmt: skip
for _module in ROUTE_MODULES:
    import_module(f"{__name__}.{_module}")
