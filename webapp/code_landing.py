"""The page a phone camera opens from a certificate code's URL.

It shows no data and consumes nothing: it only says how the code is meant to be used.
The token in the path is never looked up, so the page cannot be used to probe codes.
"""

from __future__ import annotations

from flask import render_template

from webapp import bp


@bp.get("/c/<token>")
def code_landing(token: str):
    return (
        render_template("code_landing.html"),
        200,
        {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex, nofollow",
        },
    )
