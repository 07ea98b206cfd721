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
    /// The WebAssembly proposals beyond the MVP the module needs, by name
    /// (see [`proposals`]).
    pub proposals: Vec<&'static str>,
}

/// Proposals a runtime may or may not support, by their usual names.
const PROPOSALS: &[(&str, wasmparser::WasmFeatures)] = &[
    ("mutable-global", wasmparser::WasmFeatures::MUTABLE_GLOBAL),
    ("sign-extension", wasmparser::WasmFeatures::SIGN_EXTENSION),
    ("nontrapping-float-to-int", wasmparser::WasmFeatures::SATURATING_FLOAT_TO_INT),
    ("multi-value", wasmparser::WasmFeatures::MULTI_VALUE),
    ("bulk-memory", wasmparser::WasmFeatures::BULK_MEMORY),
    ("reference-types", wasmparser::WasmFeatures::REFERENCE_TYPES),
    ("simd", wasmparser::WasmFeatures::SIMD),
    ("relaxed-simd", wasmparser::WasmFeatures::RELAXED_SIMD),
    ("threads", wasmparser::WasmFeatures::THREADS),
    ("tail-call", wasmparser::WasmFeatures::TAIL_CALL),
    ("multi-memory", wasmparser::WasmFeatures::MULTI_MEMORY),
    ("exceptions (exnref)", wasmparser::WasmFeatures::EXCEPTIONS),
    ("legacy-exceptions", wasmparser::WasmFeatures::LEGACY_EXCEPTIONS),
    ("memory64", wasmparser::WasmFeatures::MEMORY64),
    ("extended-const", wasmparser::WasmFeatures::EXTENDED_CONST),
    ("function-references", wasmparser::WasmFeatures::FUNCTION_REFERENCES),
    ("gc", wasmparser::WasmFeatures::GC),
    ("custom-page-sizes", wasmparser::WasmFeatures::CUSTOM_PAGE_SIZES),
    ("wide-arithmetic", wasmparser::WasmFeatures::WIDE_ARITHMETIC),
];

/// The proposals `bytes` needs: each one whose absence makes the module
/// invalid (validated with every feature on but that one), so what is
/// reported is what a runtime must support, not what a compiler could have
/// used. Fails if the module is invalid even with every feature.
pub fn proposals(bytes: &[u8]) -> Result<Vec<&'static str>> {
    use wasmparser::{Validator, WasmFeatures};
    let all = WasmFeatures::all();
    Validator::new_with_features(all)
        .validate_all(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid module: {e}"))?;
    let needed = std::thread::scope(|s| {
        let handles: Vec<_> = PROPOSALS
            .iter()
            .map(|(name, f)| {
                s.spawn(move || {
                    let ok = Validator::new_with_features(all.difference(*f)).validate_all(bytes).is_ok();
                    (!ok).then_some(*name)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok().flatten()).collect()
    });
    Ok(needed)
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
    out.proposals = proposals(&bytes)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_a_module_needs() {
        let mvp = b"\0asm\x01\0\0\0";
        assert!(proposals(mvp).unwrap().is_empty());
        // (func i32.const 0 i32.extend8_s drop)
        let sign_ext: &[u8] = &[
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x08, 0x01,
            0x06, 0x00, 0x41, 0x00, 0xc0, 0x1a, 0x0b,
        ];
        assert_eq!(proposals(sign_ext).unwrap(), ["sign-extension"]);
        assert!(proposals(b"\0asm\x01\0\0\0\x7f").is_err(), "invalid modules are errors");
    }

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
