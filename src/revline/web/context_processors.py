"""Template context shared by every page of the web shell."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from revline.web.selectors import Navigation, NavItem, navigation_for


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    icon: str
    active: bool


@dataclass(frozen=True)
class Sidebar:
    main: list[NavLink]
    tools: list[NavLink]
    admin: list[NavLink]
    role_labels: list[str]
    is_admin: bool


def _active_href(hrefs: list[str], path: str) -> str | None:
    """The link the current page belongs to: an exact match, else the longest prefix."""
    matches = [h for h in hrefs if path == h or (h != "/" and path.startswith(h))]
    return max(matches, key=len) if matches else None


def _sidebar(request) -> Sidebar:
    nav: Navigation = navigation_for(user=getattr(request, "user", None))
    sections = [nav.main, nav.tools, nav.admin]
    hrefs = {item.url_name: reverse(item.url_name) for items in sections for item in items}
    active = _active_href(list(hrefs.values()), request.path)

    def links(items: list[NavItem]) -> list[NavLink]:
        return [
            NavLink(i.label, hrefs[i.url_name], i.icon, hrefs[i.url_name] == active) for i in items
        ]

    return Sidebar(
        main=links(nav.main),
        tools=links(nav.tools),
        admin=links(nav.admin),
        role_labels=nav.role_labels,
        is_admin=nav.is_admin,
    )


def navigation(request):
    """``nav``: the sidebar links (with the active one marked) and the user's role labels.

    Lazy, so that a response that never shows the shell (an htmx fragment, an error page for an
    anonymous visitor) runs no query for it.
    """
    return {"nav": SimpleLazyObject(lambda: _sidebar(request))}
