#!/usr/bin/env python3
"""Seed the fuzz corpora from the shipped rules (run from anywhere).

corpus/rules_loader: every rule file under rules/ (not the rule tests), the
loader's minimal fixture and the malformed fixtures of tests/it/hostile.rs.
corpus/expression: every expression written in those files (`when:`,
`quantity:`, `over:`, `ratio:`, `factor:`, `by:`; flow or block style).
Files are named by their SHA-1, so seeding twice adds nothing.
"""
import hashlib, pathlib, re

fuzz = pathlib.Path(__file__).resolve().parent
root = fuzz.parent
KEYS = r"(?:when|quantity|over|ratio|factor|by)"


def put(target, data):
    d = fuzz / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def expressions(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        for m in re.finditer(r"(?<![\w])" + KEYS + r':\s*("([^"]*)"|\'([^\']*)\'|(.*))', line):
            plain = m.group(4) or ""
            # Unquoted: in a flow map it ends at `,` or `}`; else at a comment.
            plain = re.split(r"[,}]", plain)[0] if "{" in line[: m.start()] else re.split(r"\s#", plain)[0]
            value = m.group(2) or m.group(3) or plain.strip()
            if value in (">-", ">", "|", "|-"):  # a block scalar: the indented lines below
                indent = len(line) - len(line.lstrip())
                block = []
                for more in lines[i + 1:]:
                    if more.strip() and len(more) - len(more.lstrip()) <= indent:
                        break
                    block.append(more.strip())
                value = " ".join(block).strip()
            if value and not value.startswith(("operator", "region", "partner", "scalar")):
                yield value


files = [p for p in (root / "rules").rglob("*.y*ml") if "tests" not in p.relative_to(root / "rules").parts]
files += sorted((root / "tests" / "fixtures" / "rules-minimal").glob("*.yaml"))
files += sorted((root / "tests" / "fixtures" / "malformed").rglob("*.y*ml"))
n_files, exprs = 0, set()
for p in sorted(files):
    data = p.read_bytes()
    put("rules_loader", data)
    n_files += 1
    exprs.update(expressions(data.decode("utf-8", "replace")))
for e in sorted(exprs):
    put("expression", e.encode())
print(f"seeded {n_files} rule files and {len(exprs)} expressions")
