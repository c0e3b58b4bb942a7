"""The test page's markup as a list of elements, for the Flask test-client tests of tests/frontend."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

TEXT_TAGS = ("script", "title", "label", "button", "th")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Page(HTMLParser):
    """Every element of a page with its attributes, and the text of the elements in TEXT_TAGS."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.open_text: Element | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag in TEXT_TAGS:
            self.open_text = element

    def handle_endtag(self, tag: str) -> None:
        self.open_text = None

    def handle_data(self, data: str) -> None:
        if self.open_text is not None:
            self.open_text.text += data

    def all(self, tag: str) -> list[Element]:
        return [element for element in self.elements if element.tag == tag]

    def by_testid(self, testid: str) -> list[Element]:
        return [element for element in self.elements if element.attrs.get("data-testid") == testid]

    def by_id(self, element_id: str) -> Element:
        (element,) = [element for element in self.elements if element.attrs.get("id") == element_id]
        return element
