"""Write the page template `dvc plots show` uses, with Vega inlined so it renders offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, which no machine here
reaches. This template carries the same major versions inline (npm: vega@5.20.2,
vega-lite@5.2.0, vega-embed@6.18.2). To rebuild it:

    npm pack vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2
    for f in *.tgz; do tar xzf $f --one-top-level=${f%.tgz}; done
    python tools/build_offline_plots_page.py vega-5.20.2/package/build/vega.min.js \
        vega-lite-5.2.0/package/build/vega-lite.min.js \
        vega-embed-6.18.2/package/build/vega-embed.min.js > .dvc/plots/offline_page.html
"""

import sys
from pathlib import Path

HEAD = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>msa plots</title>
"""
TAIL = """    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")


def main(paths: list[str]) -> None:
    scripts = []
    for path in paths:
        code = Path(path).read_text(encoding="utf-8")
        if "</script" in code or any(p in code for p in PLACEHOLDERS):
            sys.exit(f"{path}: cannot be inlined (holds </script or a DVC placeholder)")
        scripts.append(f"    <script type=\"text/javascript\">\n{code}\n    </script>\n")
    sys.stdout.write(HEAD + "".join(scripts) + TAIL)


if __name__ == "__main__":
    main(sys.argv[1:])
