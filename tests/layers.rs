//! The service's folders are layers, and a module may only use the layers below its own
//! (`docs/architecture.md`). This test reads every source file under `src/`, collects the
//! `crate::<module>` paths it names outside comments, and fails on any path that points up or
//! sideways between layers, naming the file and the path.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer: a module may use modules of a lower number only.
/// `read` and `delivery` share a layer: neither knows the other.
const LAYERS: &[(&str, u8)] = &[
    ("main", 10),
    ("cli", 9),
    ("http", 8),
    ("app", 7),
    ("read", 6),
    ("delivery", 6),
    ("providers", 5),
    ("documents", 4),
    ("trust", 3),
    ("store", 2),
    ("pii", 1),
    ("metrics", 1),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, layer)| *layer)
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/http/api/contracts.rs` -> `http`,
/// `src/pii.rs` -> `pii`; `None` for `src/lib.rs`, which declares them all.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The code of a file without its comments (line, doc and block comments) and string literals,
/// so a path mentioned in prose or text does not count as a use, and `"image/*"` opens no comment.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let rest = &text[at..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            skip_to(&mut chars, at + end);
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |end| end + 2);
            skip_to(&mut chars, at + end);
        } else if let Some(end) = string_literal_len(rest) {
            out.push_str("\"\"");
            skip_to(&mut chars, at + end);
        } else if let Some(end) = char_literal_len(rest) {
            skip_to(&mut chars, at + end);
        } else {
            out.push(c);
        }
    }
    out
}

fn skip_to(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, end: usize) {
    while chars.next_if(|(at, _)| *at < end).is_some() {}
}

/// The length of a string literal at the start of `text` (`"..."`, `b"..."`, `r#"..."#`).
fn string_literal_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('b').unwrap_or(text);
    let prefix = text.len() - body.len();
    if let Some(raw) = body.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let open = &raw[hashes..];
        if !open.starts_with('"') {
            return None;
        }
        let close = format!("\"{}", "#".repeat(hashes));
        let end = open[1..].find(&close)? + 1 + close.len();
        return Some(prefix + 1 + hashes + end);
    }
    if !body.starts_with('"') {
        return None;
    }
    let mut escaped = false;
    for (index, c) in body.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(prefix + index + 1),
            _ => {}
        }
    }
    Some(text.len())
}

/// The length of a char literal at the start of `text` (`'"'`, `'\''`), or `None` for a lifetime.
fn char_literal_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('\'')?;
    let mut chars = body.char_indices();
    let (_, first) = chars.next()?;
    let after = if first == '\\' {
        body[1..].find('\'')? + 1
    } else {
        first.len_utf8()
    };
    body[after..].starts_with('\'').then_some(after + 2)
}

/// Every top-level module a piece of code names: `crate::x::...`, and the groups of
/// `use crate::{x, y::z}`.
fn named_modules(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let after = &code[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = matching_brace(group);
            names.extend(group_heads(&group[..end]));
        } else {
            names.push(identifier(after).to_owned());
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// The first path segment of each item of a `{...}` group, at the group's own nesting level.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && !c.is_whitespace() => {
                heads.push(identifier(&group[index..]).to_owned());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 1usize;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    files.sort();

    let mut unplaced = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let shown = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        let Some(own_layer) = layer_of(&module) else {
            unplaced.insert(module, shown);
            continue;
        };
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {shown}: {e}"));
        for used in named_modules(&without_comments(&text)) {
            if used == module || matches!(used.as_str(), "self" | "super") {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own_layer => {}
                Some(_) => upward.push(format!("{shown} uses crate::{used}")),
                None => {
                    unplaced.insert(used, shown.clone());
                }
            }
        }
    }

    assert!(
        unplaced.is_empty(),
        "modules without a layer (add them to LAYERS and docs/architecture.md): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "uses that point up or across a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_through_comments_and_groups() {
    let code = without_comments(
        "use crate::{store::Store, trust::{Ca, cms}};\n\
         // crate::http is only mentioned here\n\
         /* and crate::app here */\n\
         let x = crate::pii::mask(a / b, \"image/*\", '\\'', 'x');\n\
         let y = \"crate::metrics\"; fn f<'a>(v: &'a str) { crate::documents::render(v) }",
    );
    assert_eq!(named_modules(&code), ["store", "trust", "pii", "documents"]);
}
