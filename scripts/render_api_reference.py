"""Renders the OpenAPI document as one static, self-contained HTML reference page (no scripts, no
CDN): the server serves it at /docs. Imported by embed_openapi.py; uses only the standard library."""

from __future__ import annotations

import html
import json

METHODS = ("get", "put", "post", "patch", "delete")

CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:290px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f6f9;padding:1rem;
box-sizing:border-box;font-size:13px}
nav a{display:block;color:#1d2330;text-decoration:none;padding:1px 0}nav h3{margin:1rem 0 .3rem;font-size:13px}
main{padding:1rem 2rem;max-width:980px}h2{border-bottom:1px solid #dde;padding-bottom:.3rem;margin-top:2.5rem}
.op{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.patch{color:#a0a}.delete{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f8fa;padding:.6rem;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:2px 8px;text-align:left;vertical-align:top}
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def ref_name(schema) -> str | None:
    if isinstance(schema, dict) and "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return None


def schema_link(schema) -> str:
    name = ref_name(schema)
    if name:
        return f'<a href="#schema-{esc(name)}"><code>{esc(name)}</code></a>'
    return f"<code>{esc(json.dumps(schema, ensure_ascii=False))}</code>"


def render(doc: dict) -> str:
    info = doc.get("info", {})
    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
             f"<title>{esc(info.get('title', 'API'))} reference</title>",
             f"<meta name=viewport content='width=device-width'><style>{CSS}</style></head><body>"]
    comps = doc.get("components", {})
    params_lib = comps.get("parameters", {})
    responses_lib = comps.get("responses", {})
    ops = []
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                ops.append((tag, path, method, op, item.get("parameters", [])))
    tags = []
    for tag, *_ in ops:
        if tag not in tags:
            tags.append(tag)
    nav = ["<nav><strong>", esc(info.get("title", "API")), " ", esc(info.get("version", "")), "</strong>"]
    for tag in tags:
        nav.append(f"<h3>{esc(tag)}</h3>")
        for t, path, method, op, _ in ops:
            if t == tag:
                anchor = esc(op.get("operationId", f"{method}{path}"))
                nav.append(f"<a href='#{anchor}'><span class='m {method}'>{method}</span> {esc(path)}</a>")
    nav.append("<h3><a href='#schemas'>Schemas</a></h3></nav>")
    parts += nav
    parts.append(f"<main><h1>{esc(info.get('title', 'API'))}</h1>")
    if info.get("description"):
        parts.append(f"<pre style='white-space:pre-wrap;background:none;padding:0'>{esc(info['description'])}</pre>")
    for tag in tags:
        parts.append(f"<h2>{esc(tag)}</h2>")
        for t, path, method, op, shared in ops:
            if t != tag:
                continue
            anchor = esc(op.get("operationId", f"{method}{path}"))
            parts.append(f"<div class=op id='{anchor}'><div><span class='m {method}'>{method}</span> "
                         f"<code>{esc(path)}</code></div>")
            if op.get("summary"):
                parts.append(f"<p><strong>{esc(op['summary'])}</strong></p>")
            if op.get("description"):
                parts.append(f"<p>{esc(op['description'])}</p>")
            params = [params_lib.get(ref_name(p), p) if ref_name(p) else p for p in shared + op.get("parameters", [])]
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>")
                for p in params:
                    parts.append(f"<tr><td><code>{esc(p.get('name'))}</code></td><td>{esc(p.get('in'))}</td>"
                                 f"<td>{'yes' if p.get('required') else ''}</td>"
                                 f"<td>{esc(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                parts.append(f"<p>Request body ({esc(media)}): {schema_link(content.get('schema', {}))}</p>")
            parts.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
            for status, resp in op.get("responses", {}).items():
                resp = responses_lib.get(ref_name(resp), resp) if ref_name(resp) else resp
                content = resp.get("content", {})
                links = ", ".join(schema_link(c.get("schema", {})) for c in content.values())
                parts.append(f"<tr><td>{esc(status)}</td><td>{esc(resp.get('description', ''))}</td>"
                             f"<td>{links}</td></tr>")
            parts.append("</table></div>")
    parts.append("<h2 id=schemas>Schemas</h2>")
    for name, schema in comps.get("schemas", {}).items():
        parts.append(f"<h3 id='schema-{esc(name)}'>{esc(name)}</h3>")
        parts.append(f"<pre>{esc(json.dumps(schema, indent=2, ensure_ascii=False))}</pre>")
    parts.append("</main></body></html>")
    return "".join(parts)
