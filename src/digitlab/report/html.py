"""Self-contained HTML pages: text, tables and PNG figures inlined, no external files."""

import base64
import html
import math


class Page:
    """Collects sections in order and renders one HTML document."""

    def __init__(self, title: str):
        self.title, self.parts = title, []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def markdown(self, text: str) -> None:
        """Prose written in Markdown (code spans become monospace)."""
        from markdown_it import MarkdownIt

        self.parts.append(MarkdownIt("commonmark").render(text))

    def code(self, source: str) -> None:
        """Python source, coloured by Pygments (its classes, styled in STYLE); long lines scroll."""
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        coloured = highlight(source, PythonLexer(), HtmlFormatter(nowrap=True)).rstrip("\n")
        self.parts.append(f'<pre class="code"><code>{coloured}</code></pre>')

    def output(self, text: str, caption: str = "") -> None:
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure class="output">{cap}<pre>{html.escape(text)}</pre></figure>')

    def details(self, summary: str, text: str) -> None:
        """Text folded under a summary line until the reader opens it (answers to questions)."""
        self.parts.append(
            f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre></details>"
        )

    def table(self, rows: list[dict], caption: str = "") -> None:
        if not rows:
            return
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>" for r in rows
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, png: bytes, alt: str) -> None:
        data = base64.b64encode(png).decode()
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(alt)}</figcaption></figure>"
        )

    def svg(self, svg: str, caption: str) -> None:
        """A chart drawn as inline SVG (made here, from numbers: no outside text in its markup)."""
        self.parts.append(f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>")

    def gallery(self, items: list[tuple[bytes, str]], caption: str, width: int = 56) -> None:
        """Small PNG images side by side, each with its own label, shown `width` pixels wide, unsmoothed."""
        cells = "".join(
            f'<figure class="cell"><img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
            f'width="{width}" alt="{html.escape(label)}"><figcaption>{html.escape(label)}</figcaption>'
            "</figure>"
            for png, label in items
        )
        cap = f"<figcaption>{html.escape(caption)}</figcaption>"
        self.parts.append(f'<figure><div class="gallery">{cells}</div>{cap}</figure>')

    def matrix(
        self, counts: list[list[int]], caption: str, rows: str, cols: str, labels: list[str] | None = None
    ) -> None:
        """A table of counts, each cell shaded by its count (log scale): a confusion matrix; `labels`
        head its rows and columns (default: their numbers)."""
        top = max(max(r) for r in counts) or 1
        names = [html.escape(str(c)) for c in (labels or range(len(counts[0])))]
        head = f"<th>{html.escape(rows)} \\ {html.escape(cols)}</th>" + "".join(
            f"<th>{c}</th>" for c in names
        )

        def cell(n: int) -> str:
            shade = math.log1p(n) / math.log1p(top)
            ink = "#fff" if shade > 0.6 else "#222"
            return f'<td style="background:rgba(31,119,180,{shade:.2f});color:{ink}">{n}</td>'

        body = "".join(
            f"<tr><th>{names[r]}</th>" + "".join(map(cell, row)) + "</tr>" for r, row in enumerate(counts)
        )
        self.parts.append(
            f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def render(self) -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>\n<body>"
            f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(self.parts) + "\n</body></html>\n"
        )


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;
text-align:right}caption{font-weight:600;text-align:left}img{max-width:100%}
figure{margin:1rem 0}figcaption{color:#555;font-size:.9rem}pre{background:#f5f5f5;padding:.5rem;
overflow-x:auto}pre.code{background:#eef3f8;border-left:3px solid #4a78a8}code{font-family:ui-monospace,
SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}p code,li code{background:#f0f0f0;padding:0 .2em}
figure.output pre{background:#fafafa;border:1px solid #e3e3e3}
.gallery{display:flex;flex-wrap:wrap;gap:.4rem}.gallery img{image-rendering:pixelated;border:1px solid #ddd}
figure.cell{margin:0;text-align:center}figure.cell figcaption{font-size:.75rem}
pre{white-space:pre}pre.code .k,pre.code .kn,pre.code .ow{color:#0b5394;font-weight:600}
pre.code .s,pre.code .s1,pre.code .s2,pre.code .sa,pre.code .si{color:#7a3e00}pre.code .c1{color:#5f6f5f;
font-style:italic}pre.code .mi,pre.code .mf{color:#8a1f7a}pre.code .nf,pre.code .nb{color:#1f6f43}
"""
