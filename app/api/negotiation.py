"""Choosing between JSON and a printable HTML page from the `Accept` header."""


def _quality(accept: str, wanted: tuple[str, ...]) -> float:
    best = 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() not in wanted:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(accept: str | None) -> bool:
    """Whether the client prefers `text/html` to `application/json` (JSON on a tie or no header)."""
    if not accept:
        return False
    html = _quality(accept, ("text/html", "text/*", "*/*"))
    json = _quality(accept, ("application/json", "application/*", "*/*"))
    specific_html = _quality(accept, ("text/html",))
    return specific_html > 0 and html > json
