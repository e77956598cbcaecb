// The API reference, drawn from /openapi.json with text nodes only (no HTML from the schema).
"use strict";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function schemaText(schema) {
  return JSON.stringify(schema, null, 2);
}

async function draw() {
  const root = document.getElementById("endpoints");
  const spec = await (await fetch("/openapi.json")).json();
  root.textContent = "";
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = element("section", undefined, "endpoint");
      section.appendChild(element("h2", `${method.toUpperCase()} ${path}`));
      if (op.description || op.summary) section.appendChild(element("p", op.description || op.summary));
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [kind, content] of Object.entries(body)) {
          section.appendChild(element("h3", `request: ${kind}`));
          section.appendChild(element("pre", schemaText(content.schema || {})));
        }
      }
      for (const [status, answer] of Object.entries(op.responses || {})) {
        const content = answer.content && answer.content["application/json"];
        section.appendChild(element("h3", `answer ${status}: ${answer.description || ""}`));
        if (content && content.schema) section.appendChild(element("pre", schemaText(content.schema)));
      }
      root.appendChild(section);
    }
  }
  if (spec.components && spec.components.schemas) {
    root.appendChild(element("h2", "Schemas"));
    for (const [name, schema] of Object.entries(spec.components.schemas)) {
      root.appendChild(element("h3", name));
      root.appendChild(element("pre", schemaText(schema)));
    }
  }
}

draw().catch((err) => { document.getElementById("endpoints").textContent = `could not read the API: ${err}`; });
