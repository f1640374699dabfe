"""Agent replies are untrusted text shown as Markdown (SPEC §10): parsed with raw HTML turned
off, then sanitized with an allow-list, so neither a tag nor a javascript: link survives."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark plus tables and strikethrough; `html: False` keeps raw HTML in a reply as
# visible text.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])

TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# No <img>: a remote image in a reply would be a tracking pixel fetched by every viewer.
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"},
              "th": {"style"}, "td": {"style"}}  # fmt: skip


def render_markdown(text: str | None) -> Markup:
    """Sanitized HTML for a Markdown text; safe to put in a page as is."""
    html = _md.render(text or "")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return Markup(clean)  # nh3 has just sanitized it
