//! `paths::safe_relative`, with a property: a name it accepts becomes a relative path made only
//! of normal components (no root, prefix, `.` or `..`), each a plain name Windows and Unix agree
//! on, that stays inside any folder it is joined to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sct::core::paths::{MAX_COMPONENT_LEN, MAX_NAME_LEN, Separator, safe_relative};
use std::path::{Component, Path};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    for separator in [Separator::Backslash, Separator::Slash] {
        let Ok(path) = safe_relative(name, separator) else {
            continue;
        };
        assert!(name.len() <= MAX_NAME_LEN, "{name:?}");
        assert!(path.is_relative(), "{name:?} -> {path:?}");
        let mut count = 0;
        for component in path.components() {
            let Component::Normal(part) = component else {
                panic!("{name:?} -> {path:?} has {component:?}");
            };
            let part = part.to_str().expect("from a str");
            assert!(
                !part.is_empty() && part.len() <= MAX_COMPONENT_LEN,
                "{name:?}"
            );
            assert!(
                !part.contains(['/', '\\', ':', '\0']),
                "{name:?} -> component {part:?}"
            );
            assert!(!part.chars().any(char::is_control), "{name:?}");
            count += 1;
        }
        let expected = name
            .split(match separator {
                Separator::Backslash => '\\',
                Separator::Slash => '/',
            })
            .count();
        assert_eq!(
            count, expected,
            "{name:?} -> {path:?}: a component was dropped"
        );
        let base = Path::new("/base/dir");
        assert!(base.join(&path).starts_with(base), "{name:?} escapes");
    }
});
