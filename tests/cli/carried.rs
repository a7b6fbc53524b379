//! Settings carried on the drive never decide trust (issue 21, docs/reliability.md "settings
//! carried on the drive"): a config file on removable media keeps only its other settings, and
//! one inside the folder being checked cannot pin a key. The debug build's `SCT_TEST_REMOVABLE`
//! stands in for a USB drive (release builds leave the hook out).

use crate::exit::assert_exit;
use crate::support::{Env, needs_debug_build, shown, stderr_of};

const DRIVE_KEY: &str = "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn a_config_on_removable_media_cannot_pin_a_key_or_redirect_the_service() {
    if needs_debug_build() {
        return;
    }
    let env = Env::new();
    std::fs::create_dir_all(env.path("usb/UpdatePacks")).unwrap();
    let config = env.path("usb/sct.toml");
    std::fs::write(
        &config,
        format!(
            "trusted_keys = [\"{DRIVE_KEY}\"]\nservice_url = \"http://127.0.0.1:1\"\n\
             max_catalog_validity_days = 3650\n"
        ),
    )
    .unwrap();
    let out = env
        .cmd("sct-verify")
        .env("SCT_CONFIG", shown(&config))
        .env("SCT_TEST_REMOVABLE", shown(&env.path("usb")))
        .arg("usb/UpdatePacks")
        .output()
        .unwrap();
    let said = stderr_of(&out);
    assert_exit!(out, Usage);
    assert!(said.contains("removable media"), "{said}");
    assert!(
        said.contains("trusted_keys, service_url, max_catalog_validity_days"),
        "{said}"
    );
    assert!(said.contains("no trusted catalog signing key"), "{said}");
    // The same file off the drive is trusted as before: the key is taken (and the empty
    // folder is then what fails).
    let out = env
        .cmd("sct-verify")
        .env("SCT_CONFIG", shown(&config))
        .arg("usb/UpdatePacks")
        .output()
        .unwrap();
    assert!(
        !stderr_of(&out).contains("no trusted catalog signing key"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_config_inside_the_folder_being_checked_cannot_vouch_for_it() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("usb/UpdatePacks")).unwrap();
    let config = env.path("usb/UpdatePacks/sct.toml");
    std::fs::write(&config, format!("trusted_keys = [\"{DRIVE_KEY}\"]\n")).unwrap();
    let out = env
        .cmd("sct-verify")
        .env("SCT_CONFIG", shown(&config))
        .arg("usb/UpdatePacks")
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("cannot vouch for itself"),
        "{}",
        stderr_of(&out)
    );
}
