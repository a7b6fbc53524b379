//! Windows builds only: links into every `.exe` a version resource (Explorer's Properties →
//! Details: product, version, company, what the tool does) and the application manifest
//! (`packaging/windows/sct.manifest`). AppLocker and WDAC rules and the administrators reading them
//! go by these fields. Other targets get nothing from this script.

use std::path::Path;

/// Every binary and the one-line description Windows shows for it (FileDescription, also the
/// name Task Manager gives its process).
const TOOLS: &[(&str, &str)] = &[
    ("ServiceConnectionTool", "Service connection tool (sct)"),
    ("sct-collect", "sct collect: the site's usage data"),
    ("sct-pack", "sct pack: usage data cabs"),
    ("sct-upload", "sct upload: usage data to the service"),
    ("sct-fetch", "sct fetch: update packs, verified"),
    ("sct-span", "sct span: a download on several volumes"),
    ("sct-verify", "sct verify: a carried update-pack folder"),
    ("sct-import", "sct import: update packs into the site"),
    ("sct-check", "sct check: what will fail, before it fails"),
    ("sct-serve", "sct serve: the update service"),
    ("sct-demo", "sct demo: demo data, not for production"),
    ("sct-docgen", "sct docgen: man pages and completions"),
];

const PRODUCT: &str = "sct service connection tool";
const COMPANY: &str = "The sct contributors";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=packaging/windows/sct.manifest");
    println!("cargo:rerun-if-changed=src/bin");
    check_every_binary_is_listed();
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = Path::new(&root).join("packaging/windows/sct.manifest");
    for (tool, description) in TOOLS {
        // One script per tool: embed-resource names its output after the script.
        let script = Path::new(&out).join(format!("{tool}.rc"));
        std::fs::write(&script, resource_script(tool, description, &manifest))
            .expect("write the resource script");
        embed_resource::compile_for(&script, [tool], embed_resource::NONE)
            .manifest_required()
            .expect("compile the Windows resources with mingw-w64's windres");
    }
}

/// A tool added in src/bin without a description would ship with a blank Details page.
fn check_every_binary_is_listed() {
    for entry in std::fs::read_dir("src/bin").expect("src/bin") {
        let name = entry.expect("src/bin entry").file_name();
        let name = name.to_string_lossy();
        let Some(tool) = name.strip_suffix(".rs") else {
            continue;
        };
        assert!(
            TOOLS.iter().any(|(listed, _)| *listed == tool),
            "build.rs: add `{tool}` and its description to TOOLS"
        );
    }
}

/// The resource script: the manifest (resource 1 of type 24, RT_MANIFEST) and the version
/// resource, in US English and UTF-16 as Explorer reads it.
fn resource_script(tool: &str, description: &str, manifest: &Path) -> String {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let numeric = ["MAJOR", "MINOR", "PATCH"]
        .map(|part| std::env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version part"))
        .join(",");
    let manifest = manifest.display().to_string().replace('\\', "/");
    format!(
        r#"#pragma code_page(65001)
1 24 "{manifest}"
1 VERSIONINFO
FILEVERSION {numeric},0
PRODUCTVERSION {numeric},0
FILEFLAGSMASK 0x3f
FILEFLAGS 0
FILEOS 0x40004
FILETYPE 1
FILESUBTYPE 0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "{COMPANY}"
      VALUE "FileDescription", "{description}"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "{tool}"
      VALUE "LegalCopyright", "MIT OR Apache-2.0"
      VALUE "OriginalFilename", "{tool}.exe"
      VALUE "ProductName", "{PRODUCT}"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#
    )
}
