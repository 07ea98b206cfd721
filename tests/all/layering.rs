//! The library's modules import downward only: no file of `src/` reaches,
//! through `crate::…`, `super::…` or `self::…` paths, a file that reaches
//! it back (ARCHITECTURE.md, "Invariants"). `mod` declarations are not
//! imports; a path names the deepest module file it passes through.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` and `src/a/b/mod.rs` → `["a", "b"]`; `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The file of the deepest module named by a prefix of `path`.
fn file_of(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<PathBuf> {
    (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]).cloned())
}

/// Every `crate::`/`super::`/`self::` path in `text`, and every path
/// through a child module the file declares (`mod phpt;` … `phpt::Phpt`),
/// as module segments from the crate root (`here` is the file's own
/// module); `use x::{a, b::c}` groups are expanded.
fn paths_in(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let c: Vec<char> = code.chars().collect();
    // Child modules: `mod x;` and `pub mod x;` (an inline `mod x {` is
    // part of this file).
    let children: Vec<String> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            l.strip_prefix("mod ")?.strip_suffix(';').map(|m| format!("{}::", m.trim()))
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ahead: String = c[i..c.len().min(i + 40)].iter().collect();
        let after_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_' || c[i - 1] == ':');
        let rooted = ["crate::", "super::", "self::"].iter().any(|s| ahead.starts_with(s));
        let child = children.iter().any(|m| ahead.starts_with(m.as_str()));
        if after_ident || !(rooted || child) {
            i += 1;
            continue;
        }
        let (paths, end) = group(&c, i);
        for p in paths {
            let mut base: Vec<String> = here.to_vec();
            let mut segs = p.into_iter().peekable();
            match segs.peek().map(String::as_str) {
                Some("crate") => {
                    base.clear();
                    segs.next();
                }
                Some("self") => {
                    segs.next();
                }
                // A child module's path starts in this file's module.
                _ => {}
            }
            while segs.peek().is_some_and(|s| s == "super") {
                base.pop();
                segs.next();
            }
            base.extend(segs);
            out.push(base);
        }
        i = end.max(i + 1);
    }
    out
}

fn group(c: &[char], mut j: usize) -> (Vec<Vec<String>>, usize) {
    let mut path = Vec::new();
    loop {
        let start = j;
        while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
            j += 1;
        }
        if j > start {
            path.push(c[start..j].iter().collect::<String>());
        }
        if j + 1 < c.len() && c[j] == ':' && c[j + 1] == ':' {
            j += 2;
            if j < c.len() && c[j] == '{' {
                let mut out = Vec::new();
                j += 1;
                loop {
                    while j < c.len() && (c[j].is_whitespace() || c[j] == ',') {
                        j += 1;
                    }
                    if j >= c.len() || c[j] == '}' {
                        return (out, j + 1);
                    }
                    let (members, end) = group(c, j);
                    for m in members {
                        let mut p = path.clone();
                        p.extend(m);
                        out.push(p);
                    }
                    // Skip an `as name` or anything up to the member's end.
                    j = end;
                    while j < c.len() && c[j] != ',' && c[j] != '}' {
                        j += 1;
                    }
                }
            }
            continue;
        }
        return (vec![path], j);
    }
}

fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeMap<PathBuf, BTreeSet<String>>> {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(src)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    let modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let mut g = BTreeMap::new();
    for f in &files {
        // `a/b.rs` is module a::b (its `super` is a); `a/mod.rs` is a.
        let here = module_of(src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let edges: &mut BTreeMap<PathBuf, BTreeSet<String>> = g.entry(f.clone()).or_default();
        for p in paths_in(text, &here) {
            if let Some(to) = file_of(&modules, &p) {
                if &to != f && !to.ends_with("lib.rs") {
                    edges.entry(to).or_default().insert(p.join("::"));
                }
            }
        }
    }
    g
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(g: &BTreeMap<PathBuf, BTreeMap<PathBuf, BTreeSet<String>>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeMap<PathBuf, BTreeSet<String>>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flat_map(|e| e.keys()) {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.clone());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_library_has_no_import_cycle() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(g.len() > 20, "read {} files of {}", g.len(), src.display());
    let found = cycles(&g);
    let mut report = String::new();
    for c in &found {
        report.push_str("cycle:\n");
        for a in c {
            for (b, names) in &g[a] {
                if c.contains(b) {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    report.push_str(&format!(
                        "  {} -> {}: {}\n",
                        a.strip_prefix(&src).unwrap().display(),
                        b.strip_prefix(&src).unwrap().display(),
                        names.join(", ")
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "modules of src/ import each other in a loop:\n{report}");
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::{c::{Thing, Other}, X};\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod c;\npub struct X;\nfn f() { c::Thing::new(); }\n").unwrap();
    std::fs::write(src.join("b/c.rs"), "use super::super::a; // via super\nfn f() { crate::a::g(); }\n").unwrap();
    let g = graph(src);
    let found = cycles(&g);
    assert_eq!(
        found,
        vec![vec![src.join("a.rs"), src.join("b/c.rs"), src.join("b/mod.rs")]],
        "{g:#?}"
    );
    assert!(
        g[&src.join("a.rs")].contains_key(&src.join("b/mod.rs")),
        "the group's X names b: {g:#?}"
    );
    assert!(
        g[&src.join("b/mod.rs")].contains_key(&src.join("b/c.rs")),
        "a child module's path is an edge: {g:#?}"
    );
}
