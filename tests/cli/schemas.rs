//! Keeps the published JSON Schemas (`docs/schemas/*.json`) true to the code: documents made by the
//! real code paths (the library, called in-process) must validate, and documents that drift (a
//! field added, dropped or retyped) must not.

use sct::core::catalog::{self, Catalog, Pack, PackFile};
use sct::core::document::Document;
use sct::core::offer::{Offer, Receipt};
use sct::core::packdir::{FetchRecord, HierarchyRecord};
use sct::core::signing::{KeyFile, PrivateKey, SignatureFile};
use sct::core::usage::UsageDocument;
use sct::core::usage_cab::{CabReport, MANIFEST_MEMBER, UsageManifest};
use sct::core::wire::ErrorDocument;
use sct::service::pack_metadata::PackMetadata;
use sct::service::publish::PublishReport;
use sct::service::samples::SampleReport;
use sct::site::DiagnosticsLevel;
use sct::site::demo::{DemoSpec, create};
use sct::stages::import::ledger::Ledger;
use sct::stages::verify::VerifyReport;
use serde_json::{Value, json};
use uuid::Uuid;

/// Every document kind with a published schema.
const KINDS: &[&str] = &[
    UsageDocument::SCHEMA,
    UsageManifest::SCHEMA,
    CabReport::SCHEMA,
    sct::core::cabinet::MemberLine::SCHEMA,
    Catalog::SCHEMA,
    SignatureFile::SCHEMA,
    sct::core::freshness::Statement::SCHEMA,
    KeyFile::SCHEMA,
    Offer::SCHEMA,
    Receipt::SCHEMA,
    FetchRecord::SCHEMA,
    sct::stages::upload::UploadPlan::SCHEMA,
    VerifyReport::SCHEMA,
    sct::stages::fetch::EVENT_SCHEMA,
    FETCH_PLAN,
    sct::stages::import::SCHEMA,
    UPDATE_PACKAGE,
    ErrorDocument::SCHEMA,
    SERVE_LISTENING,
    PUBLIC_KEY,
    PublishReport::SCHEMA,
    DEMO_SITE,
    SampleReport::SCHEMA,
    PackMetadata::SCHEMA,
    Ledger::SCHEMA,
    sct::stages::import::housekeeping::SCHEMA,
    sct::core::volume::VolumeRecord::SCHEMA,
    sct::stages::span::SpanReport::SCHEMA,
    sct::stages::check::CheckReport::SCHEMA,
    sct::stages::import::status::PackStatus::SCHEMA,
];

/// Kinds whose tag lives only in the code that writes them (no `Document` type).
const FETCH_PLAN: &str = "sct.fetch-plan.v1";
const UPDATE_PACKAGE: &str = "sct.update-package.v1";
const SERVE_LISTENING: &str = "sct.serve-listening.v1";
const PUBLIC_KEY: &str = "sct.public-key.v1";
const DEMO_SITE: &str = "sct.demo-site.v1";

/// Top-level fields the code leaves out when they have no value (`skip_serializing_if`).
const OPTIONAL: &[(&str, &str)] = &[
    (VerifyReport::SCHEMA, "volume"),
    (sct::core::cabinet::MemberLine::SCHEMA, "sha256"),
    (Catalog::SCHEMA, "hierarchy_id"),
    (Catalog::SCHEMA, "timestamp_keys"),
    (KeyFile::SCHEMA, "role"),
    (FetchRecord::SCHEMA, "freshness_checked_at"),
    (VerifyReport::SCHEMA, "timestamp_key_id"),
    (sct::stages::import::SCHEMA, "reason"),
    (sct::stages::import::SCHEMA, "path"),
    (sct::stages::import::SCHEMA, "state"),
    (sct::stages::import::SCHEMA, "state_name"),
    (sct::stages::import::SCHEMA, "wait"),
    (sct::stages::import::housekeeping::SCHEMA, "name"),
    (sct::stages::import::housekeeping::SCHEMA, "full_version"),
    (sct::stages::import::housekeeping::SCHEMA, "state"),
    (sct::stages::import::housekeeping::SCHEMA, "state_name"),
    (sct::stages::import::housekeeping::SCHEMA, "action"),
    ("sct.pack-status.v1", "inbox_detail"),
    ("sct.pack-status.v1", "why"),
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
        let optional = OPTIONAL.contains(&(kind.as_str(), key.as_str()));
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
        // A stream of several line types is a `oneOf` of closed objects, one per `type`.
        let closed: Vec<&Value> = match schema["oneOf"].as_array() {
            Some(variants) => variants
                .iter()
                .map(|v| {
                    let name = v["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
                    let variant = &schema["$defs"][name];
                    assert_eq!(variant["properties"]["schema"]["const"], json!(kind));
                    variant
                })
                .collect(),
            None => vec![&schema],
        };
        for object in closed {
            assert_eq!(object["additionalProperties"], json!(false), "{kind}");
        }
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
    let locator = sct::site::SiteLocator::Sqlite(db);
    let usage = sct::stages::prepare::collect(&locator).unwrap();
    check(&serde_json::to_value(&usage).unwrap());

    let cab = dir.path().join("UsageData.cab");
    let report = sct::core::usage_cab::pack(&usage, &cab).unwrap();
    check(&serde_json::to_value(&report).unwrap());

    let mut reader = sct::core::cabinet::CabReader::open(&cab).unwrap();
    let manifest = reader.read_member(MANIFEST_MEMBER, 1 << 20).unwrap();
    check(&serde_json::from_slice(&manifest).unwrap());
    for member in reader.members() {
        let listed = sct::core::cabinet::MemberLine::new(member, None);
        check(&serde_json::to_value(&listed).unwrap());
    }
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let extracted = sct::core::cabinet::extract(&cab, &out, 1 << 20, 1 << 20).unwrap();
    for (member, sha256) in extracted {
        let line = sct::core::cabinet::MemberLine::new(member, Some(sha256));
        check(&serde_json::to_value(&line).unwrap());
    }

    let config = sct::stages::config::Config::default();
    let net = sct::stages::http::NetOptions {
        proxy: Some("http://proxy:3128".into()),
        ..Default::default()
    };
    let planned = sct::stages::upload::plan(&cab, None, &net, &config).unwrap();
    check(&serde_json::to_value(&planned).unwrap());
    let configured = sct::stages::upload::plan(
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
        schema: sct::core::document::Tag::new(),
        version: 7,
        issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        expires_at: "2027-02-01T00:00:00Z".parse().unwrap(),
        hierarchy_id: hierarchy,
        timestamp_keys: vec![PrivateKey::generate().public().to_string()],
        packs: vec![Pack {
            info: sct::core::catalog::PackInfo {
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
            },
            files: vec![PackFile {
                path: format!("{folder}/{folder}.cab"),
                size: 3,
                sha256: sct::core::hash::hex_of(b"abc"),
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
    let timestamp_key = dir.path().join("timestamp-key.json");
    keys[1]
        .save_as(&timestamp_key, sct::core::signing::KeyRole::Timestamp)
        .unwrap();
    check(&serde_json::from_slice(&std::fs::read(&timestamp_key).unwrap()).unwrap());
    let (bytes, _) = catalog::sign(&sample_catalog(None), &[&keys[0]]).unwrap();
    let now = jiff::Timestamp::now();
    let (_, statement, signature) =
        sct::core::freshness::sign(&bytes, 7, &keys[1], now, 24, Some(b"previous")).unwrap();
    check(&serde_json::from_slice(&statement).unwrap());
    check(&serde_json::from_slice(&signature).unwrap());
}

#[test]
fn offers_receipts_and_fetch_records_validate() {
    let hierarchy = Uuid::new_v4();
    let receipt = Receipt {
        schema: sct::core::document::Tag::new(),
        hierarchy_id: hierarchy,
        site_code: "PS1".into(),
        site_version: "5.00.9128.1000".parse().unwrap(),
        full_version: "5.00.9128.1033".parse().unwrap(),
        received_at: "2026-11-26T10:00:00Z".into(),
        sha256: sct::core::hash::hex_of(b"cab"),
        catalog_url: "http://127.0.0.1:8080/catalog.json".into(),
        catalog_version: 7,
    };
    check(&serde_json::to_value(&receipt).unwrap());
    let offer = Offer {
        schema: sct::core::document::Tag::new(),
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
        schema: sct::core::document::Tag::new(),
        catalog_version: 7,
        freshness_checked_at: Some(jiff::Timestamp::now()),
        hierarchies: vec![HierarchyRecord {
            hierarchy_id: hierarchy,
            site_code: "PS1".into(),
            site_version: "5.00.9128.1000".parse().unwrap(),
            mode: "latest".into(),
            earlier_modes: Vec::new(),
            packs: vec![Uuid::new_v4()],
        }],
    };
    check(&serde_json::to_value(&record).unwrap());
}

/// A running `sct-serve` over a published sample root, stopped when dropped.
struct Service {
    address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    fn start(root: &std::path::Path) -> Self {
        let options = sct::service::serve::ServeOptions {
            token: Some("s3cret".into()),
            ..sct::service::serve::ServeOptions::new(
                root.to_owned(),
                "127.0.0.1:0".parse().unwrap(),
            )
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(sct::service::serve::serve(
                    options,
                    |a| ready.send(a).unwrap(),
                    async {
                        let _ = stopped.await;
                    },
                ))
                .unwrap();
        });
        Self {
            address: address.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The body of a raw HTTP/1.1 exchange.
    fn exchange(&self, request: &str) -> Value {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

fn offer_for(service: &Service, site: &DemoSpec) -> Offer {
    let base = format!("http://{}", service.address);
    let receipt = Receipt {
        schema: sct::core::document::Tag::new(),
        hierarchy_id: site.hierarchy_id,
        site_code: site.site_code.clone(),
        site_version: site.version,
        full_version: site.version,
        received_at: "2026-11-26T10:00:00Z".into(),
        sha256: sct::core::hash::hex_of(b"cab"),
        catalog_url: format!("{base}/catalog/catalog.json"),
        catalog_version: 1,
    };
    Offer {
        schema: sct::core::document::Tag::new(),
        hierarchy_id: site.hierarchy_id,
        site_code: site.site_code.clone(),
        site_version: site.version,
        full_version: site.version,
        usage_cab: "/media/usb/UsageData.cab".into(),
        catalog_url: receipt.catalog_url.clone(),
        packs_url: format!("{base}/packs/"),
        receipt,
    }
}

fn demo_spec(install_dir: &std::path::Path) -> DemoSpec {
    DemoSpec {
        site_code: "PS1".into(),
        site_name: "Primary".into(),
        version: "5.00.9128.1000".parse().unwrap(),
        hierarchy_id: Uuid::new_v4(),
        level: DiagnosticsLevel::Enhanced,
        install_dir: install_dir.display().to_string(),
        extra_rows: 0,
        no_usage: false,
    }
}

/// The whole job through the real code: sample packs, publish, serve, fetch (plan and events),
/// verify, import (plan, import with --wait, read-only with its ledger) and --list.
#[test]
fn documents_of_a_whole_job_validate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("service");
    let small = sct::service::samples::SampleOptions {
        cab_payload: 2_000,
        redist_size: 300,
        seed: 5,
    };
    check(&serde_json::to_value(sct::service::samples::generate(&root, &small).unwrap()).unwrap());
    let metadata = std::fs::read(root.join(sct::service::pack_metadata::METADATA_FILE)).unwrap();
    check(&serde_json::from_slice(&metadata).unwrap());

    let key = PrivateKey::generate();
    check(
        &serde_json::to_value(sct::core::signing::public_key_document(
            &key.public(),
            sct::core::signing::KeyRole::Timestamp,
        ))
        .unwrap(),
    );
    let signer = sct::service::timestamp::TimestampSigner::new(PrivateKey::generate(), 24).unwrap();
    let publish = |hierarchy_id| {
        let options = sct::service::publish::PublishOptions {
            root: root.clone(),
            metadata: None,
            expires_in_days: 7,
            hierarchy_id,
            timestamp_keys: Some(vec![signer.key.public()]),
        };
        serde_json::to_value(sct::service::publish::publish(&options, &[&key]).unwrap()).unwrap()
    };
    check(&publish(Some(Uuid::new_v4())));
    let second = publish(None);
    assert_eq!(second["previous_version"], json!(1));
    check(&second);
    let service_root = sct::service::publish::ServiceRoot::new(&root);
    let statement = signer
        .sign_current(&service_root, jiff::Timestamp::now())
        .unwrap();
    check(&serde_json::to_value(statement.unwrap()).unwrap());

    let service = Service::start(&root);
    let listening = |scheme, address| {
        serde_json::to_value(sct::service::serve::listening_document(scheme, address)).unwrap()
    };
    check(&listening("http", service.address));
    check(&listening("https", "[::1]:8443".parse().unwrap()));
    let refused = service.exchange(&format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        sct::core::wire::UPLOAD_PATH
    ));
    assert_eq!(refused["error"], json!("unauthorized"));
    check(&refused);

    let install_dir = dir.path().join("cm");
    std::fs::create_dir(&install_dir).unwrap();
    let spec = demo_spec(&install_dir);
    let db = dir.path().join("site.db");
    create(&db, &spec).unwrap();
    check(&serde_json::to_value(sct::site::demo::site_document(&db, &spec)).unwrap());

    let dest = dir.path().join("usb");
    let options = sct::stages::fetch::FetchOptions {
        dest: dest.clone(),
        mode: sct::core::select::DownloadMode::All,
        jobs: 2,
        net: Default::default(),
        trusted: vec![key.public()],
        progress: false,
        validity: Default::default(),
        max_timestamp_age: Default::default(),
    };
    let offers = [offer_for(&service, &spec)];
    let plan = sct::stages::fetch::dry_run(&options, &offers).unwrap();
    check(&serde_json::to_value(&plan).unwrap());
    let mut lines = Vec::new();
    sct::stages::fetch::fetch(&options, &offers, &mut |event| {
        lines.push(serde_json::to_value(event)?);
        Ok(())
    })
    .unwrap();
    drop(service);
    assert_eq!(lines.last().unwrap()["type"], json!("summary"));
    assert!(lines.len() > 1);
    for line in &lines {
        check(line);
    }
    let mut pack = lines[0].clone();
    pack["type"] = json!("summary");
    assert!(!errors(sct::stages::fetch::EVENT_SCHEMA, &pack).is_empty());

    let now = jiff::Timestamp::now();
    let verified = sct::stages::verify::verify_dir(&dest, &[key.public()], now).unwrap();
    assert!(verified.report.ok);
    let record: Value =
        serde_json::from_slice(&std::fs::read(dest.join(sct::core::packdir::RECORD_FILE)).unwrap())
            .unwrap();
    assert!(record["freshness_checked_at"].is_string(), "{record}");
    check(&record);
    check(&serde_json::to_value(&verified.report).unwrap());

    let locator = sct::site::SiteLocator::Sqlite(db.clone());
    let config = sct::stages::config::Config::default();
    let import = |options: sct::stages::import::ImportOptions| {
        let mut lines: Vec<Value> = Vec::new();
        sct::stages::import::import(&locator, &config, &options, &[key.public()], &mut |e| {
            lines.push(serde_json::to_value(e)?);
            Ok(())
        })
        .unwrap();
        lines
    };
    let base = sct::stages::import::ImportOptions {
        src: dest.clone(),
        install_dir: Some(install_dir.clone()),
        ..Default::default()
    };
    let planned = import(sct::stages::import::ImportOptions {
        dry_run: true,
        ..base.clone()
    });
    let imported = import(sct::stages::import::ImportOptions {
        wait: Some(sct::stages::import::wait::WaitOptions {
            interval: std::time::Duration::from_millis(1),
            max_polls: 2,
        }),
        ..base.clone()
    });
    let mut seen = std::collections::BTreeSet::new();
    for line in planned.iter().chain(&imported) {
        seen.insert(format!("{}:{}", line["type"], line["outcome"]));
        check(line);
    }
    for wanted in [
        "\"pack\":\"would_import\"",
        "\"pack\":\"imported\"",
        "\"pack\":\"not_applicable\"",
        "\"state\":null",
        "\"summary\":null",
    ] {
        assert!(seen.contains(wanted), "no {wanted} line in {seen:?}");
    }

    let store = sct::site::open(&locator).unwrap();
    let listed = sct::stages::import::site_packages(store.as_ref()).unwrap();
    assert!(!listed.is_empty());
    for row in &listed {
        check(&serde_json::to_value(row).unwrap());
    }
    // --status, with the folder's catalog (complete folders) and without (unchecked ones).
    let catalog: sct::core::catalog::Catalog =
        serde_json::from_slice(&std::fs::read(dest.join("catalog.json")).unwrap()).unwrap();
    let inbox = sct::stages::import::inbox::Inbox::of_install_dir(&install_dir);
    for catalog in [Some(&catalog), None] {
        let lines = sct::stages::import::status::status(store.as_ref(), &inbox, catalog).unwrap();
        assert!(lines.iter().any(|l| l.ready));
        for line in &lines {
            check(&serde_json::to_value(line).unwrap());
        }
    }

    // A site sct only reads keeps the catalog version in a ledger beside the packs.
    let mut read_only = sct::stages::import::SiteAccess::ReadOnly(store);
    let identity = read_only.store().identity().unwrap();
    let other = dir.path().join("cm2");
    std::fs::create_dir(&other).unwrap();
    sct::stages::import::run(
        &mut read_only,
        &identity,
        &other,
        &base,
        &[key.public()],
        now,
        &mut |_| Ok(()),
    )
    .unwrap();
    let inbox = sct::stages::import::inbox::Inbox::of_install_dir(&other);
    let ledger = std::fs::read(inbox.root.join(sct::stages::import::ledger::LEDGER_FILE)).unwrap();
    check(&serde_json::from_slice(&ledger).unwrap());
}

/// `sct-check` on a machine with a site and no update service: passed, failed and skipped
/// checks (with and without a fix) all validate.
#[test]
fn check_reports_validate() {
    let env = crate::support::Env::new();
    let site = env.demo_site("check", &[]);
    let out = env
        .cmd("sct-check")
        .args(["--json", "--site", &site, "--install-dir"])
        .arg(env.path("no-such-install"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"ok") && statuses.contains(&"fail") && statuses.contains(&"skipped")
    );
    check(&doc);
}

#[test]
fn verify_reports_with_problems_validate() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let mut catalog = sample_catalog(None);
    let now = jiff::Timestamp::now();
    catalog.issued_at = now - jiff::SignedDuration::from_hours(1);
    catalog.expires_at = now + jiff::SignedDuration::from_hours(24);
    let timestamp_key = PrivateKey::generate();
    catalog.timestamp_keys = vec![timestamp_key.public().to_string()];
    let (bytes, signature) = catalog::sign(&catalog, &[&key]).unwrap();
    let (_, statement, statement_signature) =
        sct::core::freshness::sign(&bytes, catalog.version, &timestamp_key, now, 24, None).unwrap();
    let packdir = sct::core::packdir::PackDir::new(dir.path());
    std::fs::write(packdir.timestamp(), statement).unwrap();
    std::fs::write(packdir.timestamp_signature(), statement_signature).unwrap();
    std::fs::write(dir.path().join(catalog::CATALOG_FILE), bytes).unwrap();
    std::fs::write(dir.path().join(catalog::SIGNATURE_FILE), signature).unwrap();
    let pack = &catalog.packs[0];
    let file = dir.path().join(&pack.files[0].path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"abd").unwrap();
    std::fs::write(dir.path().join("stray.txt"), b"?").unwrap();
    let record = FetchRecord {
        schema: sct::core::document::Tag::new(),
        catalog_version: catalog.version,
        freshness_checked_at: None,
        hierarchies: vec![HierarchyRecord {
            hierarchy_id: Uuid::new_v4(),
            site_code: "PS1".into(),
            site_version: "5.00.9128.1000".parse().unwrap(),
            mode: "latest".into(),
            earlier_modes: Vec::new(),
            packs: vec![pack.package_guid],
        }],
    };
    std::fs::write(
        dir.path().join(sct::core::packdir::RECORD_FILE),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
    let report = sct::stages::verify::verify_dir(dir.path(), &[key.public()], now)
        .unwrap()
        .report;
    assert!(!report.ok);
    assert_eq!(report.unexpected, ["stray.txt"]);
    assert_eq!(report.packs[0].problems.len(), 1);
    assert_eq!(
        report.timestamp_key_id,
        Some(timestamp_key.public().key_id())
    );
    check(&serde_json::to_value(&report).unwrap());
}

/// Line variants a clean run does not print: failures, skips and `--wait` endings.
#[test]
fn failure_and_skip_lines_validate() {
    let guid = Uuid::new_v4();
    let failed = sct::stages::fetch::PackEvent {
        schema: sct::core::document::Tag::new(),
        kind: "pack",
        package_guid: guid,
        name: "Configuration Manager 2409".into(),
        full_version: "5.00.9132.1000".parse().unwrap(),
        update_type: catalog::update_type::REGULAR,
        detail: sct::stages::fetch::PackFetched {
            hierarchies: vec![Uuid::new_v4()],
            status: sct::stages::fetch::PackStatus::Failed,
            files: 4,
            bytes: 3170,
            transferred: 12,
            problems: vec!["`X/X.cab` has SHA-256 00, expected 11".into()],
        },
    };
    check(&serde_json::to_value(sct::stages::fetch::FetchEvent::Pack(failed)).unwrap());

    use sct::stages::import::{ImportSummary, Outcome, PackEvent, PackImported};
    for (outcome, reason, state) in [
        (
            Outcome::SkippedOtherHierarchy,
            Some("fetched for hierarchy x"),
            None,
        ),
        (Outcome::Failed, Some("disk full"), None),
        (Outcome::AlreadyPresent, None, Some(1)),
    ] {
        let event = PackEvent {
            schema: sct::core::document::Tag::new(),
            kind: "pack",
            package_guid: guid,
            name: "Configuration Manager 2409".into(),
            full_version: "5.00.9132.1000".parse().unwrap(),
            update_type: catalog::update_type::REGULAR,
            detail: PackImported {
                outcome,
                reason: reason.map(str::to_owned),
                path: None,
                files: 4,
                bytes: 3170,
                state,
                state_name: state.and_then(sct::site::state::name),
                failure: None,
            },
        };
        check(&serde_json::to_value(&event).unwrap());
    }
    for (database, wait) in [
        ("failed", None),
        (
            "read-only",
            Some(sct::stages::import::wait::WaitEnd::TimedOut),
        ),
        (
            "registered",
            Some(sct::stages::import::wait::WaitEnd::Failed),
        ),
    ] {
        let summary = ImportSummary {
            schema: sct::core::document::Tag::new(),
            kind: "summary",
            site_code: "PS1".into(),
            site_version: "5.00.9128.1000".into(),
            key_id: "0123456789abcdef".into(),
            database,
            wait,
            ..Default::default()
        };
        check(&serde_json::to_value(&summary).unwrap());
    }
}

/// `sct-import inbox` lines: a registered pack removed, an unregistered one kept, the summary.
#[test]
fn inbox_housekeeping_lines_validate() {
    use sct::stages::import::housekeeping::{InboxPack, InboxSummary, Status};
    let registered = InboxPack {
        schema: sct::core::document::Tag::new(),
        kind: "pack",
        package_guid: Uuid::new_v4(),
        path: "/opt/cm/EasySetupPayload/offline/X".into(),
        files: 2,
        bytes: 1523,
        name: Some("Configuration Manager 2403".into()),
        full_version: Some("5.00.9128.1000".parse().unwrap()),
        state: Some(196_612),
        state_name: Some("INSTALL_SUCCESS"),
        status: Status::Superseded,
        reason: "installed (INSTALL_SUCCESS)".into(),
        action: Some("removed"),
    };
    check(&serde_json::to_value(&registered).unwrap());
    let unregistered = InboxPack {
        name: None,
        full_version: None,
        state: None,
        state_name: None,
        status: Status::Unregistered,
        action: None,
        ..registered
    };
    assert_valid(&serde_json::to_value(&unregistered).unwrap());
    let summary = InboxSummary {
        schema: sct::core::document::Tag::new(),
        kind: "summary",
        inbox: "/opt/cm/EasySetupPayload/offline".into(),
        site_version: "5.00.9128.1000".into(),
        packs: 2,
        superseded: 1,
        unregistered: 1,
        removed: 1,
        bytes_freed: 1523,
        ..Default::default()
    };
    check(&serde_json::to_value(&summary).unwrap());
}

/// Every timestamp field of every schema (a property named `*_at`, or a `$defs/time`), resolved
/// through `$ref`s, as (schema file, field path, the field's schema).
fn timestamp_fields() -> Vec<(String, String, Value)> {
    fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
        match node["$ref"].as_str() {
            Some(reference) => {
                let mut target = root;
                for part in reference.trim_start_matches("#/").split('/') {
                    target = &target[part];
                }
                target
            }
            None => node,
        }
    }
    fn walk(root: &Value, node: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        if let Some(map) = node.as_object() {
            for (key, value) in map {
                let here = format!("{path}/{key}");
                if key.ends_with("_at") && value.is_object() {
                    out.push((here.clone(), resolve(root, value).clone()));
                }
                walk(root, value, &here, out);
            }
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemas");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut fields = Vec::new();
        walk(&schema, &schema, "", &mut fields);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        found.extend(fields.into_iter().map(|(p, v)| (name.clone(), p, v)));
    }
    found
}

/// `format: date-time` is an annotation unless a validator opts in: each timestamp carries a
/// pattern, so "26 Nov 2026" is refused by any validator with default settings.
#[test]
fn every_timestamp_is_constrained_without_format_validation() {
    let fields = timestamp_fields();
    assert!(fields.len() >= 10, "{fields:?}");
    for (file, path, field) in fields {
        let validator =
            jsonschema::validator_for(&field).unwrap_or_else(|e| panic!("{file} {path}: {e}"));
        for bad in [
            "26 Nov 2026",
            "2026-11-26",
            "2026-11-26 10:54:39",
            "tomorrow",
        ] {
            assert!(
                !validator.is_valid(&json!(bad)),
                "{file} {path} accepts `{bad}`"
            );
        }
        for good in ["2026-11-26T10:54:39Z", "2026-11-26T10:54:39.123456789Z"] {
            assert!(
                validator.is_valid(&json!(good)),
                "{file} {path} refuses `{good}`"
            );
        }
    }
}

/// sct-span's plan, a volume's record, and sct-verify's report of a volume, from a folder laid
/// out so that a pack and a file are split.
#[test]
fn span_plans_volume_records_and_volume_reports_validate() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let hierarchy = Uuid::new_v4();
    let big = crate::kit::test_pack("big", "5.00.9106.1000", "5.00.9132.1009", 300_000);
    let small = crate::kit::test_pack("small", "5.00.9106.1000", "5.00.9132.1009", 1_000);
    let src = dir.path().join("packs");
    crate::kit::write_pack_folder(
        &src,
        4,
        &key,
        None,
        &[(hierarchy, &[&big, &small])],
        "5.00.9128.1000",
    );
    let options = sct::stages::span::SpanOptions {
        src,
        out: dir.path().join("volumes"),
        volume_size: 128 * 1024,
        dry_run: false,
    };
    let now = jiff::Timestamp::now();
    let report = sct::stages::span::span(&options, &[key.public()], now).unwrap();
    check(&serde_json::to_value(&report).unwrap());
    let mut parts = 0;
    for volume in &report.volumes {
        let folder = options.out.join(&volume.name);
        let record = std::fs::read(folder.join(sct::core::volume::VOLUME_FILE)).unwrap();
        let record: Value = serde_json::from_slice(&record).unwrap();
        parts += record["parts"].as_array().unwrap().len();
        check(&record);
        let verified = sct::stages::verify::verify_dir(&folder, &[key.public()], now).unwrap();
        assert!(verified.report.ok);
        check(&serde_json::to_value(&verified.report).unwrap());
    }
    assert!(parts > 1, "{report:?}");
}

/// Release dates are calendar dates, and the site's dates ISO 8601 text or empty: no field that
/// names a date takes free text.
#[test]
fn date_fields_take_dates_only() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemas");
    let field = |file: &str, pointer: &str| {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap())
                .unwrap();
        let field = schema
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{file} {pointer}"));
        jsonschema::validator_for(field).unwrap()
    };
    for file in [
        "sct.catalog.v1.json",
        "sct.pack-metadata.v1.json",
        "sct.sample-packs.v1.json",
    ] {
        let release = field(file, "/$defs/pack/properties/release_date");
        assert!(release.is_valid(&json!("2024-10-14")), "{file}");
        for bad in ["", "14 Oct 2024", "2024-10-14T00:00:00Z", "soon"] {
            assert!(!release.is_valid(&json!(bad)), "{file} accepts `{bad}`");
        }
    }
    for key in ["date_released", "last_update_time"] {
        let site = field("sct.update-package.v1.json", &format!("/properties/{key}"));
        for good in [
            "",
            "2024-10-14",
            "2024-09-02T10:11:12.340",
            "2026-01-01T00:00:00Z",
        ] {
            assert!(site.is_valid(&json!(good)), "{key} refuses `{good}`");
        }
        for bad in ["14 Oct 2024", "yesterday", "2024-9-2"] {
            assert!(!site.is_valid(&json!(bad)), "{key} accepts `{bad}`");
        }
    }
}
