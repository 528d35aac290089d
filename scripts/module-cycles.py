#!/usr/bin/env python3
"""Import cycles between the modules of src/ (README, Architecture: "no
import circles"). Reads `use crate::…` / `super::…` paths and a parent's
use of its own children, as text (a lint, not a compiler); `#[cfg(test)] mod
tests` and comments are left out. Exit 1 and name the modules of every
cycle, else exit 0 silently. `-v` prints the whole graph."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)[:-3]
        parts = rel.split('/')
        if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
        mods['::'.join(parts)] = p
def resolve(cur, path):
    # cur: module name; path: list of segments after crate/super
    return path
edges = {}
for m, p in mods.items():
    text = open(p).read()
    # strip #[cfg(test)] mod tests {...} roughly: cut at '#[cfg(test)]\nmod tests'
    i = text.find('#[cfg(test)]\nmod tests')
    if i >= 0: text = text[:i]
    text = re.sub(r'//[^\n]*', '', text)
    # A visibility path (`pub(in crate::x)`) is not an import.
    text = re.sub(r'pub\(in [^)]*\)', 'pub', text)
    cur = m.split('::') if m else []
    is_dir = p.endswith('mod.rs') or p.endswith('lib.rs')
    deps = set()
    for mm in re.finditer(r'\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)', text):
        kind = mm.group(1)
        segs = [s for s in mm.group(2).split('::') if s and s != '{']
        # handle `use super::{a, b}` / `crate::{a::x, b}`
        brace = text[mm.end()-1:mm.end()] == '{' or (text[mm.end():mm.end()+3].startswith('::{'))
        if kind == 'crate': base = []
        else:
            parent = cur if is_dir else cur[:-1]
            base = parent[:-1] if False else parent
            # super from file module x::y -> x ; from x/mod.rs (module x) -> parent of x
            base = cur[:-1]
        groups = [segs]
        if brace:
            j = text.find('{', mm.start())
            depth = 0; k = j
            while k < len(text):
                if text[k] == '{': depth += 1
                elif text[k] == '}':
                    depth -= 1
                    if depth == 0: break
                k += 1
            inner = text[j+1:k]
            for item in re.split(r',', re.sub(r'\{[^{}]*\}', '', inner)):
                item = item.strip().split(' as ')[0]
                if item: groups.append(segs + [s for s in item.split('::') if s])
        for g in groups:
            full = base + g
            # longest prefix that is a module
            best = None
            for n in range(len(full), 0, -1):
                cand = '::'.join(full[:n])
                if cand in mods: best = cand; break
            if best is None or best == m: continue
            # ignore importing own ancestors' children relation? keep
            deps.add(best)
    # children declared here and used by relative path (`use child::x`, `child::f()`)
    for c in re.findall(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_0-9]+)\s*;', text, re.M):
        child = '::'.join(cur + [c])
        if child in mods and re.search(r'(?<![:\w])' + c + r'::', text):
            deps.add(child)
    edges[m] = deps
# Any cycle (of two modules or more), parent/child pairs included: a parent
# that re-exports a child which imports the parent back is a cycle too.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in sorted(edges.get(v, ())):
        if w not in edges: continue
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index: strong(v)
for comp in sccs:
    print('import cycle among: ' + ', '.join(c or 'crate' for c in comp))
if '-v' in sys.argv:
    for a in sorted(edges): print(a or 'crate', '->', sorted(edges[a]))
sys.exit(1 if sccs else 0)
