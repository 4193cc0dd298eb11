#!/usr/bin/python3
"""Converts schemas/openapi.yaml to JSON and emits a C++ source that embeds it.

Run by CMake at build time with Debian's /usr/bin/python3 (python3-yaml). The server serves these
bytes at GET /v1/openapi.json and builds its request validators from the same document, so the
published contract and the runtime checks cannot diverge.
"""
import json
import sys

import yaml

from render_api_reference import render


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    delim = "sw_openapi"
    if f"){delim}\"" in text:
        raise SystemExit("openapi JSON contains the raw-string delimiter")
    # Split into chunks: some compilers limit the length of one string literal.
    def literal(value: str) -> str:
        if f"){delim}\"" in value:
            raise SystemExit("generated text contains the raw-string delimiter")
        chunks = [value[i:i + 16000] for i in range(0, len(value), 16000)]
        return "\n".join(f'R"{delim}({c}){delim}"' for c in chunks)

    body = literal(text)
    page = literal(render(doc))
    with open(out, "w", encoding="utf-8") as f:
        f.write("// Generated from schemas/openapi.yaml by scripts/embed_openapi.py. Do not edit.\n")
        f.write('#include "schemas/openapi.hpp"\n\n')
        f.write("namespace streetwise::schemas {\n")
        f.write("std::string_view OpenApiJson() {\n")
        f.write(f"  static constexpr char kJson[] =\n{body};\n")
        f.write("  return std::string_view(kJson, sizeof(kJson) - 1);\n}\n")
        f.write("std::string_view ApiReferenceHtml() {\n")
        f.write(f"  static constexpr char kHtml[] =\n{page};\n")
        f.write("  return std::string_view(kHtml, sizeof(kHtml) - 1);\n}\n")
        f.write("}  // namespace streetwise::schemas\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
