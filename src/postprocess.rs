//! Post-processing with walrus: a release module without debug and name
//! sections (custom sections are not needed at run time), a `producers`
//! entry for kiln, and a `kiln.build-info` custom section (JSON) saying
//! exactly what went in. The unstripped module, with the same build-info,
//! is kept beside it as the debug artifact.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

pub const BUILD_INFO: &str = "kiln.build-info";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildInfo {
    pub recipe: String,
    pub version: String,
    pub flavor: String,
    pub sources: Vec<Pinned>,
    pub patches: Vec<Pinned>,
    pub deps: Vec<String>,
    pub toolchain: String,
    pub configure: Vec<String>,
    pub cflags: String,
    pub ldflags: String,
    pub kiln: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pinned {
    pub name: String,
    pub sha256: String,
}

impl BuildInfo {
    /// What went into `plan`'s module, read from the plan's resolved flags
    /// (the same ones configure, make and the shim compile got), with
    /// machine paths written as `{work}`, `{repo}`, `{cache}`, `{target}`.
    pub fn of(plan: &crate::plan::BuildPlan) -> BuildInfo {
        let portable = |v: &[String]| plan.portable(&v.join(" "));
        BuildInfo {
            recipe: plan.recipe.name.clone(),
            version: plan.recipe.version.clone(),
            flavor: plan.flavor.clone(),
            sources: std::iter::once(Pinned {
                name: plan.source.file.clone(),
                sha256: plan.source.sha256.clone(),
            })
            .chain(plan.deps().map(|d| Pinned {
                name: d.source.file.clone(),
                sha256: d.source.sha256.clone(),
            }))
            .collect(),
            patches: plan
                .patches
                .iter()
                .map(|p| Pinned {
                    name: p.path.file_name().unwrap_or_default().to_string_lossy().into(),
                    sha256: p.sha256.clone(),
                })
                .collect(),
            deps: plan.deps().map(|d| d.id.clone()).collect(),
            toolchain: plan.toolchain.version_line.clone(),
            configure: plan.flags.configure.iter().map(|a| plan.portable(a)).collect(),
            cflags: portable(&plan.flags.cflags),
            ldflags: format!("{} {}", portable(&plan.flags.ldflags), portable(&plan.flags.libs))
                .trim()
                .to_string(),
            kiln: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Produce (release, debug) module bytes from `input`.
///
/// The release module is re-emitted by walrus without custom sections
/// (debug info, names) but with `producers` += kiln and the build-info.
/// The debug module is the linked module byte for byte with the build-info
/// appended as a last custom section: its DWARF stays exactly as the
/// linker (and, for Ruby, binaryen's Asyncify) wrote it. walrus's DWARF
/// rewriting panicked on Ruby's Asyncify output (gimli: line-row addresses
/// out of order), and an appended section moves no code offset, so nothing
/// needs rewriting.
pub fn process(input: &Path, info: &BuildInfo) -> Result<(Vec<u8>, Vec<u8>)> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let json = serde_json::to_vec(info)?;
    let mut debug_bytes = bytes.clone();
    append_custom_section(&mut debug_bytes, BUILD_INFO, &json);

    // walrus asserts rather than returns errors in places: a panic here is
    // reported as this module's error, not as a crash of the command.
    let release = std::panic::catch_unwind(|| -> Result<Vec<u8>> {
        let mut cfg = walrus::ModuleConfig::new();
        cfg.generate_dwarf(false).generate_name_section(false);
        let mut release = cfg
            .parse(&bytes)
            .map_err(|e| anyhow!("walrus cannot parse {}: {e}", input.display()))?;
        let names: Vec<String> = release.customs.iter().map(|(_, c)| c.name().to_string()).collect();
        for n in names {
            release.customs.remove_raw(&n);
        }
        release.producers.add_processed_by("kiln", env!("CARGO_PKG_VERSION"));
        release.customs.add(walrus::RawCustomSection {
            name: BUILD_INFO.into(),
            data: json,
        });
        Ok(release.emit_wasm())
    })
    .map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        anyhow!("post-processing {} with walrus failed: {why}", input.display())
    })??;
    Ok((release, debug_bytes))
}

/// Append a custom section (id 0: LEB128 size, LEB128 name length, name,
/// payload) to a module's bytes.
fn append_custom_section(module: &mut Vec<u8>, name: &str, data: &[u8]) {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    module.push(0);
    leb(body.len(), module);
    module.extend_from_slice(&body);
}

/// What `cargo xtask inspect` shows.
#[derive(Debug, Default, Serialize)]
pub struct Inspection {
    pub build_info: Option<serde_json::Value>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// (section, bytes) in file order.
    pub sections: Vec<(String, usize)>,
    pub size: usize,
}

pub fn inspect(path: &Path) -> Result<Inspection> {
    use wasmparser::{Parser, Payload};
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Inspection {
        size: bytes.len(),
        ..Default::default()
    };
    for payload in Parser::new(0).parse_all(&bytes) {
        let payload = payload.with_context(|| format!("{} is not a valid wasm module", path.display()))?;
        let name = match &payload {
            Payload::TypeSection(_) => "type",
            Payload::ImportSection(_) => "import",
            Payload::FunctionSection(_) => "function",
            Payload::TableSection(_) => "table",
            Payload::MemorySection(_) => "memory",
            Payload::TagSection(_) => "tag",
            Payload::GlobalSection(_) => "global",
            Payload::ExportSection(_) => "export",
            Payload::ElementSection(_) => "element",
            Payload::DataCountSection { .. } => "datacount",
            Payload::DataSection(_) => "data",
            Payload::CodeSectionStart { .. } => "code",
            Payload::CustomSection(c) => {
                if c.name() == BUILD_INFO {
                    out.build_info = serde_json::from_slice(c.data()).ok();
                }
                out.sections.push((format!("custom:{}", c.name()), c.data().len()));
                ""
            }
            _ => "",
        };
        if let Some(r) = payload.as_section() {
            if !name.is_empty() {
                out.sections.push((name.to_string(), r.1.len()));
            }
        }
        match payload {
            Payload::ImportSection(s) => {
                for imp in s.into_imports() {
                    let imp = imp?;
                    out.imports.push(format!("{}::{}", imp.module, imp.name));
                }
            }
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e?;
                    out.exports.push(format!("{} ({:?})", e.name, e.kind));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_section_is_valid_and_found_by_inspect() {
        let d = tempfile::tempdir().unwrap();
        // (module) plus one large section, to exercise multi-byte LEB128.
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        append_custom_section(&mut m, "pad", &vec![7u8; 300]);
        append_custom_section(&mut m, BUILD_INFO, br#"{"recipe":"x"}"#);
        let p = d.path().join("m.wasm");
        std::fs::write(&p, &m).unwrap();
        let i = inspect(&p).unwrap();
        assert_eq!(i.build_info.unwrap()["recipe"], "x");
        assert!(i.sections.iter().any(|(n, len)| n == "custom:pad" && *len == 300));
    }
}
