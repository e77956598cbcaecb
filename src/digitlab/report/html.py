"""Self-contained HTML pages: text, tables and PNG figures inlined, no external files."""

import base64
import html


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
        self.parts.append(f'<pre class="code"><code>{html.escape(source)}</code></pre>')

    def output(self, text: str, caption: str = "") -> None:
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure class="output">{cap}<pre>{html.escape(text)}</pre></figure>')

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
"""
