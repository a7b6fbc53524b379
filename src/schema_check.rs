//! Keeps the published JSON Schemas (`docs/schemas/*.json`) true to the code: documents made by the
//! real code paths must validate, and documents that drift (a field added, dropped or retyped) must
//! not. Test-only.

use crate::catalog::{self, Catalog, Pack, PackFile};
use crate::document::Document;
use crate::offer::{Offer, Receipt};
use crate::packdir::{FetchRecord, HierarchyRecord};
use crate::signing::{KeyFile, PrivateKey, SignatureFile};
use crate::site::DiagnosticsLevel;
use crate::site::demo::{DemoSpec, create};
use crate::usage::UsageDocument;
use crate::usage_cab::{CabReport, MANIFEST_MEMBER, UsageManifest};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every document kind with a published schema.
const KINDS: &[&str] = &[
    UsageDocument::SCHEMA,
    UsageManifest::SCHEMA,
    CabReport::SCHEMA,
    Catalog::SCHEMA,
    SignatureFile::SCHEMA,
    KeyFile::SCHEMA,
    Offer::SCHEMA,
    Receipt::SCHEMA,
    FetchRecord::SCHEMA,
    crate::upload::UploadPlan::SCHEMA,
];

fn schema_of(kind: &str) -> Value {
    let path = format!("{}/docs/schemas/{kind}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn errors(kind: &str, doc: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema_of(kind))
        .unwrap_or_else(|e| panic!("docs/schemas/{kind}.json is not a valid schema: {e}"));
    validator.iter_errors(doc).map(|e| e.to_string()).collect()
}

fn assert_valid(doc: &Value) {
    let kind = doc["schema"].as_str().expect("a schema tag");
    let found = errors(kind, doc);
    assert!(found.is_empty(), "{kind}: {found:#?}\n{doc:#}");
}

/// Each change of shape must be refused: the schema is not vacuous and forbids unknown fields.
fn assert_drift_refused(doc: &Value) {
    let kind = doc["schema"].as_str().unwrap().to_owned();
    let object = doc.as_object().unwrap();
    for key in object.keys() {
        let mut dropped = doc.clone();
        dropped.as_object_mut().unwrap().remove(key);
        let optional = kind == Catalog::SCHEMA && key == "hierarchy_id";
        assert!(
            optional || !errors(&kind, &dropped).is_empty(),
            "{kind} without `{key}` passes"
        );
        let mut retyped = doc.clone();
        retyped[key] = json!({ "unexpected": true });
        assert!(
            !errors(&kind, &retyped).is_empty(),
            "{kind} with `{key}` as an object passes"
        );
    }
    let mut extra = doc.clone();
    extra["added_in_code_not_in_docs"] = json!(1);
    assert!(
        !errors(&kind, &extra).is_empty(),
        "{kind} allows unknown fields"
    );
    let mut other = doc.clone();
    other["schema"] = json!("sct.other.v1");
    assert!(
        !errors(&kind, &other).is_empty(),
        "{kind} accepts another tag"
    );
}

fn check(doc: &Value) {
    assert_valid(doc);
    assert_drift_refused(doc);
}

#[test]
fn every_kind_has_a_schema_naming_it() {
    for kind in KINDS {
        let schema = schema_of(kind);
        assert_eq!(schema["properties"]["schema"]["const"], json!(kind));
        assert_eq!(schema["additionalProperties"], json!(false), "{kind}");
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemas");
    let files = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(files, KINDS.len(), "a schema file without a test in {dir}");
}

#[test]
fn usage_documents_from_a_demo_site_validate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("site.db");
    let spec = DemoSpec {
        site_code: "PS1".into(),
        site_name: "Primary".into(),
        version: "5.00.9128.1000".parse().unwrap(),
        hierarchy_id: Uuid::new_v4(),
        level: DiagnosticsLevel::Full,
        install_dir: "C:\\Program Files\\Microsoft Configuration Manager".into(),
        extra_rows: 0,
        no_usage: false,
    };
    create(&db, &spec).unwrap();
    let locator = crate::site::SiteLocator::Sqlite(db);
    let usage = crate::prepare::collect(&locator).unwrap();
    check(&serde_json::to_value(&usage).unwrap());

    let cab = dir.path().join("UsageData.cab");
    let report = crate::usage_cab::pack(&usage, &cab).unwrap();
    check(&serde_json::to_value(&report).unwrap());

    let mut reader = crate::cabinet::CabReader::open(&cab).unwrap();
    let manifest = reader.read_member(MANIFEST_MEMBER, 1 << 20).unwrap();
    check(&serde_json::from_slice(&manifest).unwrap());

    let config = crate::config::Config::default();
    let net = crate::http::NetOptions {
        proxy: Some("http://proxy:3128".into()),
        ..Default::default()
    };
    let planned = crate::upload::plan(&cab, None, &net, &config).unwrap();
    check(&serde_json::to_value(&planned).unwrap());
    let configured = crate::upload::plan(
        &cab,
        Some("https://u.example.org"),
        &Default::default(),
        &config,
    )
    .unwrap();
    check(&serde_json::to_value(&configured).unwrap());
}

fn sample_catalog(hierarchy: Option<Uuid>) -> Catalog {
    let guid = Uuid::new_v4();
    let folder = guid.to_string().to_uppercase();
    Catalog {
        schema: Catalog::SCHEMA.into(),
        version: 7,
        issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        expires_at: "2027-02-01T00:00:00Z".parse().unwrap(),
        hierarchy_id: hierarchy,
        packs: vec![Pack {
            package_guid: guid,
            name: "Configuration Manager 2409".into(),
            update_number: "2409".into(),
            full_version: "5.00.9132.1000".parse().unwrap(),
            update_type: catalog::update_type::REGULAR,
            min_cm_version: "5.00.9106.1000".parse().unwrap(),
            max_cm_version: "5.00.9132.1009".parse().unwrap(),
            release_date: "2024-10-14".into(),
            more_info_link: "https://example.invalid/2409".into(),
            description: String::new(),
            files: vec![PackFile {
                path: format!("{folder}/{folder}.cab"),
                size: 3,
                sha256: crate::hash::hex_of(b"abc"),
            }],
        }],
    }
}

#[test]
fn signed_catalog_files_validate() {
    let keys = [PrivateKey::generate(), PrivateKey::generate()];
    for hierarchy in [None, Some(Uuid::new_v4())] {
        let (bytes, signature) =
            catalog::sign(&sample_catalog(hierarchy), &[&keys[0], &keys[1]]).unwrap();
        let catalog: Value = serde_json::from_slice(&bytes).unwrap();
        check(&catalog);
        let mut extra = catalog.clone();
        extra["packs"][0]["files"][0]["mode"] = json!("0644");
        assert!(
            !errors(Catalog::SCHEMA, &extra).is_empty(),
            "unknown file field"
        );
        check(&serde_json::from_slice(&signature).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.json");
    keys[0].save(&key_file).unwrap();
    check(&serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap());
}

#[test]
fn offers_receipts_and_fetch_records_validate() {
    let hierarchy = Uuid::new_v4();
    let receipt = Receipt {
        schema: Receipt::SCHEMA.into(),
        hierarchy_id: hierarchy,
        site_code: "PS1".into(),
        site_version: "5.00.9128.1000".parse().unwrap(),
        full_version: "5.00.9128.1033".parse().unwrap(),
        received_at: "2026-11-26T10:00:00Z".into(),
        sha256: crate::hash::hex_of(b"cab"),
        catalog_url: "http://127.0.0.1:8080/catalog.json".into(),
        catalog_version: 7,
    };
    check(&serde_json::to_value(&receipt).unwrap());
    let offer = Offer {
        schema: Offer::SCHEMA.into(),
        hierarchy_id: hierarchy,
        site_code: "PS1".into(),
        site_version: receipt.site_version,
        full_version: receipt.full_version,
        usage_cab: "/media/usb/UsageData.cab".into(),
        catalog_url: receipt.catalog_url.clone(),
        packs_url: "http://127.0.0.1:8080/packs/".into(),
        receipt,
    };
    let offer = serde_json::to_value(&offer).unwrap();
    check(&offer);
    let mut bad_receipt = offer.clone();
    bad_receipt["receipt"]["sha256"] = json!("not-a-hash");
    assert!(!errors(Offer::SCHEMA, &bad_receipt).is_empty());
    let record = FetchRecord {
        schema: FetchRecord::SCHEMA.into(),
        catalog_version: 7,
        hierarchies: vec![HierarchyRecord {
            hierarchy_id: hierarchy,
            site_code: "PS1".into(),
            site_version: "5.00.9128.1000".parse().unwrap(),
            mode: "latest".into(),
            packs: vec![Uuid::new_v4()],
        }],
    };
    check(&serde_json::to_value(&record).unwrap());
}
